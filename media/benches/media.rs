//! Media-core throughput: H.264 decode fps, scale time per frame, encode fps
//! (openh264, rav1e) at 360p and 720p, CMAF write MB/s. Input is a 720p30
//! test pattern made by ffmpeg (x264 High, B-frames) at bench start.
//! `benches/compare_ffmpeg.sh` times ffmpeg on the same frames for the ratios.

use std::fs::File;
use std::process::Command;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tessera_media::h264::decoder::decode_track;
use tessera_media::scale::Scaler;
use tessera_media::{encode_segment, EncoderSettings, Limits, Mp4Source, SpeedPreset, VideoCodec, YuvFrame};

const FRAMES: usize = 30;

fn source() -> (Mp4Source, Vec<Vec<u8>>) {
    let path = std::env::temp_dir().join("tessera-bench-720p.mp4");
    if !path.exists() {
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i"])
            .arg(format!("testsrc2=size=1280x720:rate=30:duration={}", FRAMES / 30))
            .args(["-c:v", "libx264", "-profile:v", "high", "-bf", "3", "-g", "30", "-pix_fmt", "yuv420p"])
            .arg(&path)
            .status()
            .expect("ffmpeg must be installed to make the bench input");
        assert!(status.success(), "ffmpeg failed to make the bench input");
    }
    let mut file = File::open(&path).expect("open bench input");
    let source = Mp4Source::open(&mut file, &Limits::default()).expect("demux bench input");
    let data = source.read_samples(&mut file, &source.video.samples).expect("samples");
    (source, data)
}

fn decode(source: &Mp4Source, data: &[Vec<u8>]) -> Vec<YuvFrame> {
    decode_track(&source.video, &source.video.samples, data).expect("decode")
}

fn benches(c: &mut Criterion) {
    let (source, data) = source();
    let frames_720 = decode(&source, &data);
    let mut scaler = Scaler::new();
    let frames_360: Vec<YuvFrame> = frames_720.iter().map(|f| scaler.scale(f, 640, 360).expect("scale")).collect();

    let mut g = c.benchmark_group("decode");
    g.sample_size(10).throughput(Throughput::Elements(frames_720.len() as u64));
    g.bench_function("h264_720p", |b| b.iter(|| decode(&source, &data)));
    g.finish();

    let mut g = c.benchmark_group("scale");
    g.throughput(Throughput::Elements(1));
    g.bench_function("720p_to_360p", |b| b.iter(|| scaler.scale(&frames_720[0], 640, 360).expect("scale")));
    g.bench_function("720p_to_480p", |b| b.iter(|| scaler.scale(&frames_720[0], 854, 480).expect("scale")));
    g.finish();

    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    for (codec, kbps_360, kbps_720) in [(VideoCodec::H264, 700, 2500), (VideoCodec::Av1, 450, 1600)] {
        for (label, frames, kbps) in [("360p", &frames_360, kbps_360), ("720p", &frames_720, kbps_720)] {
            let settings = EncoderSettings {
                codec,
                width: frames[0].width,
                height: frames[0].height,
                bitrate_kbps: kbps,
                frame_rate: 30.0,
                speed: SpeedPreset::Veryfast,
                threads: 1,
            };
            g.throughput(Throughput::Elements(frames.len() as u64));
            g.bench_with_input(BenchmarkId::new(codec.as_str(), label), frames, |b, frames| {
                b.iter(|| encode_segment(&settings, frames).expect("encode"))
            });
        }
    }
    g.finish();

    let encoded = encode_segment(
        &EncoderSettings {
            codec: VideoCodec::H264,
            width: 1280,
            height: 720,
            bitrate_kbps: 2500,
            frame_rate: 30.0,
            speed: SpeedPreset::Veryfast,
            threads: 1,
        },
        &frames_720,
    )
    .expect("encode");
    let bytes: usize = encoded.samples.iter().map(|s| s.data.len()).sum();
    let mut g = c.benchmark_group("cmaf");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("write_fragment_720p", |b| b.iter(|| encoded.to_fragment(1, 1, 0).expect("fragment")));
    g.finish();
}

criterion_group!(media, benches);
criterion_main!(media);
