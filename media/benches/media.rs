//! Media-core throughput: H.264 decode fps (the libavcodec front end, with
//! and without scaling), encode fps of every encoder (x264, openh264,
//! SVT-AV1, rav1e; each one thread, as tasks run) at 360p and 720p, CMAF write MB/s. Input is a 720p30
//! test pattern made by ffmpeg (x264 High, B-frames) at bench start.
//! `benches/compare_ffmpeg.sh` times ffmpeg on the same frames for the ratios.

use std::process::Command;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tessera_media::av::video::decode_video;
use tessera_media::av::SourceFile;
use tessera_media::encoders::{BuildEncoders, EncoderCatalog, EncoderKind};
use tessera_media::source_segment::SourceSegment;
use tessera_media::{encode_segment, EncoderSettings, Limits, MediaError, SpeedPreset, VideoCodec, YuvFrame};

const FRAMES: usize = 30;

/// The bench input as one source segment (every packet of the file).
fn source() -> SourceSegment {
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
    let source = SourceFile::open(&path, &Limits::default()).expect("open bench input");
    let spans = source.plan(Duration::from_secs(3600)).expect("plan");
    let mut segments = Vec::new();
    source
        .cut::<MediaError>(&spans, &[], |s| {
            segments.push(s);
            Ok(())
        })
        .expect("cut");
    segments.remove(0)
}

/// The front end: libavcodec decode through the normalising filter graph.
fn decode(segment: &SourceSegment, size: (u32, u32)) -> Vec<YuvFrame> {
    let mut frames = Vec::new();
    decode_video(segment, size, &mut |f| {
        frames.push(f);
        Ok(())
    })
    .expect("decode");
    frames
}

fn benches(c: &mut Criterion) {
    let segment = source();
    let frames_720 = decode(&segment, (1280, 720));
    let frames_360 = decode(&segment, (640, 360));

    let mut g = c.benchmark_group("decode");
    g.sample_size(10).throughput(Throughput::Elements(frames_720.len() as u64));
    g.bench_function("h264_720p_libavcodec", |b| b.iter(|| decode(&segment, (1280, 720))));
    g.bench_function("h264_720p_to_360p_libavcodec", |b| b.iter(|| decode(&segment, (640, 360))));
    g.finish();

    let mut g = c.benchmark_group("encode");
    g.sample_size(10);
    for encoder in EncoderKind::ALL.into_iter().filter(|e| BuildEncoders.available(*e)) {
        let (kbps_360, kbps_720) = if encoder.codec() == VideoCodec::H264 { (700, 2500) } else { (450, 1600) };
        for (label, frames, kbps) in [("360p", &frames_360, kbps_360), ("720p", &frames_720, kbps_720)] {
            let settings = EncoderSettings {
                encoder,
                width: frames[0].width,
                height: frames[0].height,
                bitrate_kbps: kbps,
                quality: None,
                segment_secs: 1.0,
                frame_rate: 30.0,
                speed: SpeedPreset::Veryfast,
                threads: 1,
                low_delay: false,
            };
            g.throughput(Throughput::Elements(frames.len() as u64));
            g.bench_with_input(BenchmarkId::new(encoder.as_str(), label), frames, |b, frames| {
                b.iter(|| encode_segment(&settings, frames).expect("encode"))
            });
        }
    }
    g.finish();

    let encoded = encode_segment(
        &EncoderSettings {
            encoder: EncoderKind::Openh264,
            width: 1280,
            height: 720,
            bitrate_kbps: 2500,
            quality: None,
            segment_secs: 1.0,
            frame_rate: 30.0,
            speed: SpeedPreset::Veryfast,
            threads: 1,
            low_delay: false,
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
