# syntax=docker/dockerfile:1
# The image every Tessera service runs (charts/tessera): `tessera coordinator`, `tessera worker`,
# `tessera packager`, and `tessera submit` for the chart's `helm test`.
#
#   docker build -t registry.example.com/tessera:0.1.0 .
#
# Stages: the Rust build (openh264 and rav1e need nasm and a C/C++ compiler, which the rust image
# has; the input front end needs FFmpeg's development libraries, clang and pkg-config for its
# bindings), a throwaway stage that makes the 2 s test sample with ffmpeg, and a slim runtime with
# FFmpeg's shared libraries only.

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nasm clang pkg-config \
      libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libswresample-dev libavutil-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The target folder is a cache mount, so the binary is copied out in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tessera \
 && install -m 0755 target/release/tessera /usr/local/bin/tessera

# A 2 s 320x180 H.264 (High, 8-bit 4:2:0, IDR every second) + AAC sample for `helm test`.
FROM debian:${DEBIAN_RELEASE}-slim AS sample
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*
RUN ffmpeg -hide_banner -loglevel error \
      -f lavfi -i testsrc2=size=320x180:rate=30:duration=2 \
      -f lavfi -i sine=frequency=440:sample_rate=48000:duration=2 \
      -c:v libx264 -profile:v high -pix_fmt yuv420p -g 30 \
      -c:a aac -b:a 64k -shortest -movflags +faststart /sample.mp4

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
      libavformat59 libavcodec59 libavfilter8 libswscale6 libswresample4 libavutil57 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 tessera \
 && useradd --system --uid 10001 --gid tessera --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tessera
COPY --from=builder /usr/local/bin/tessera /usr/local/bin/tessera
COPY --from=sample /sample.mp4 /usr/share/tessera/sample.mp4
# Scratch files (a coordinator copies a job's source before segmenting it) go to /tmp: the chart
# mounts an emptyDir there and keeps the root filesystem read-only.
ENV TESSERA_LOG=info
USER 10001:10001
# HTTP API (coordinator), RTMP ingest (coordinator), /healthz /readyz /metrics (worker, packager with TESSERA_OPS_LISTEN).
EXPOSE 8080 1935 9090
ENTRYPOINT ["tessera"]
CMD ["--help"]
