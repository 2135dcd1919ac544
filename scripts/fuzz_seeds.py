#!/usr/bin/env python3
"""Seeds for the fuzz targets, made from real media (scripts/fuzz.sh runs this).

usage: fuzz_seeds.py WORKDIR TESSERA_BINARY

- flv_tag: the tag bodies of an FLV file ffmpeg writes (H.264 + AAC, as OBS
  publishes), each behind a byte saying video (0) or audio (1).
- rtmp_session: what ffmpeg sends an RTMP server after the handshake (its
  connect command), recorded by a stand-in server; and the video tags as
  RTMP chunks, as a publishing connection carries them.
- source_segment: the source segments `tessera segment` cuts from an MP4.
"""
import os
import socket
import struct
import subprocess
import sys
import threading

work, tessera = sys.argv[1], sys.argv[2]
corpus = {name: os.path.join(work, "corpus", name) for name in ("flv_tag", "rtmp_session", "source_segment")}
for path in corpus.values():
    os.makedirs(path, exist_ok=True)

def seed(target, name, data):
    with open(os.path.join(corpus[target], name), "wb") as f:
        f.write(data)

def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)

source = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=15:duration=1",
          "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1",
          "-c:v", "libx264", "-profile:v", "high", "-bf", "2", "-g", "15", "-pix_fmt", "yuv420p",
          "-c:a", "aac", "-b:a", "64k"]

# FLV tags.
flv = os.path.join(work, "clip.flv")
ffmpeg(*source, "-f", "flv", flv)
data = open(flv, "rb").read()
at, tags = 9 + 4, []
while at + 11 <= len(data):
    kind, size = data[at], int.from_bytes(data[at + 1:at + 4], "big")
    body = data[at + 11:at + 11 + size]
    if kind in (8, 9):
        tags.append((kind, body))
    at += 11 + size + 4
for i, (kind, body) in enumerate(tags[:12]):
    seed("flv_tag", f"tag-{i:02}", bytes([0 if kind == 9 else 1]) + body)

# RTMP: a stand-in server records ffmpeg's first messages.
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
listener.settimeout(30)
port = listener.getsockname()[1]
recorded = bytearray()

def serve():
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        return
    conn.settimeout(3)
    def read(n):
        out = b""
        while len(out) < n:
            chunk = conn.recv(n - len(out))
            if not chunk:
                raise EOFError
            out += chunk
        return out
    try:
        c0c1 = read(1537)
        conn.sendall(b"\x03" + bytes(1536) + c0c1[1:])
        read(1536)
        while len(recorded) < 4096:
            chunk = conn.recv(4096)
            if not chunk:
                break
            recorded.extend(chunk)
    except (EOFError, socket.timeout, ConnectionError):
        pass
    conn.close()

server = threading.Thread(target=serve)
server.start()
# ffmpeg fails once the stand-in hangs up; that is expected.
subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "quiet", "-nostdin", *source,
                "-f", "flv", f"rtmp://127.0.0.1:{port}/live/key"], timeout=30, check=False)
server.join()
seed("rtmp_session", "ffmpeg-connect", b"\x10\x00" + bytes(recorded))

def chunks(csid, type_id, payload, size=128):
    out = bytes([csid]) + (0).to_bytes(3, "big") + len(payload).to_bytes(3, "big") + bytes([type_id])
    out += struct.pack("<I", 1)
    for i in range(0, max(len(payload), 1), size):
        if i:
            out += bytes([0xC0 | csid])
        out += payload[i:i + size]
    return out

media = b"".join(chunks(6 if kind == 9 else 4, kind, body) for kind, body in tags[:6])
seed("rtmp_session", "publishing-media", b"\x08\x01" + media)

# Source segments.
mp4 = os.path.join(work, "clip.mp4")
ffmpeg(*source, "-f", "mp4", mp4)
segments = os.path.join(work, "segments")
subprocess.run([tessera, "segment", mp4, "--out", segments, "--segment-duration", "1"], check=True,
               stdout=subprocess.DEVNULL)
for name in sorted(os.listdir(segments)):
    seed("source_segment", name, open(os.path.join(segments, name), "rb").read())

print(" ".join(f"{t}: {len(os.listdir(p))} seeds" for t, p in corpus.items()))
