//! Decode, scale and encode against ffmpeg's view of the same frames.

use tessera_media::cmaf::{init_segment, SampleEntry, TrackSpec};
use tessera_media::quality::{mean_psnr, psnr};
use tessera_media::{encode_segment, CodecConfig, EncodedSegment, EncoderSettings, SpeedPreset, VideoCodec, YuvFrame};

use crate::fixtures::{self, ffmpeg_decode_raw, ffmpeg_frame_count, ffprobe_json, scratch};
use crate::{decode_file, raw_frames};

/// Rung used by the encode tests: 256x144 from the 320x180 source.
pub const RUNG: (u32, u32) = (256, 144);

/// Quality floors (mean PSNR over Y, U, V against the scaled source) at 300 kbit/s
/// for this 256x144 test pattern; measured ~39 dB (H.264) and ~40 dB (AV1).
pub const H264_PSNR_FLOOR: f64 = 34.0;
/// See [`H264_PSNR_FLOOR`].
pub const AV1_PSNR_FLOOR: f64 = 34.0;

/// The source's first `n` frames, decoded and scaled to the rung.
pub fn scaled_source_frames(n: usize) -> Vec<YuvFrame> {
    decode_file(&fixtures::high_bframes(), Some(RUNG)).into_iter().take(n).collect()
}

/// Encodes frames at the test rung.
pub fn encode(codec: VideoCodec, frames: &[YuvFrame]) -> EncodedSegment {
    let settings = EncoderSettings {
        codec,
        width: RUNG.0,
        height: RUNG.1,
        bitrate_kbps: 300,
        frame_rate: 30.0,
        speed: SpeedPreset::Veryfast,
        threads: 1,
    };
    encode_segment(&settings, frames).expect("encode")
}

/// Writes init + fragments for one encoded video track to a file, returning its path.
pub fn write_video_track(name: &str, timescale: u32, segments: &[EncodedSegment]) -> std::path::PathBuf {
    let entry = match &segments[0].config {
        CodecConfig::Avc(c) => SampleEntry::Avc(c.clone()),
        CodecConfig::Av1(c) => SampleEntry::Av1(c.clone()),
    };
    let spec = TrackSpec { track_id: 1, timescale, width: RUNG.0, height: RUNG.1, entry, media_start: 0 };
    let mut bytes = init_segment(&[spec]).unwrap();
    for (i, seg) in segments.iter().enumerate() {
        assert_eq!(seg.config, segments[0].config, "every segment reports the same configuration");
        bytes.extend(seg.to_fragment(i as u32 + 1, 1, seg.samples[0].pts as u64).unwrap());
    }
    let path = scratch(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn decode_matches_ffmpeg_in_presentation_order() {
    // High with B-frames, Main, and Baseline: every frame, in order, equal to ffmpeg's.
    for path in [fixtures::high_bframes(), fixtures::two_gops(), fixtures::baseline()] {
        let ours = decode_file(&path, None);
        let theirs = raw_frames(&fixtures::ffmpeg_reference_raw(&path, None), 320, 180);
        assert_eq!((ours.len(), theirs.len()), (90, 90), "{}", path.display());
        let expected_pts: Vec<i64> = (0..90).map(|i| i * 512).collect();
        assert_eq!(ours.iter().map(|f| f.pts).collect::<Vec<_>>(), expected_pts, "presentation order");
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let p = psnr(a, b).unwrap();
            assert!(p > 50.0, "{}: frame {i}: PSNR {p:.2} dB against ffmpeg's decode", path.display());
        }
    }
}

fn check_encode(codec: VideoCodec, floor: f64, ffprobe_name: &str) {
    let frames = scaled_source_frames(30);
    let encoded = encode(codec, &frames);
    assert_eq!(encoded.samples.len(), 30);
    assert!(encoded.samples[0].is_sync, "first frame is a keyframe");
    assert_eq!(encoded, encode(codec, &frames), "deterministic: identical bytes on a second run");

    let path = write_video_track(&format!("enc-{codec}.mp4"), 15360, std::slice::from_ref(&encoded));
    let v = ffprobe_json(&["-show_entries", "stream=codec_name,width,height", path.to_str().unwrap()]);
    assert_eq!(v["streams"][0]["codec_name"], ffprobe_name);
    assert_eq!((v["streams"][0]["width"].as_u64(), v["streams"][0]["height"].as_u64()), (Some(256), Some(144)));
    assert_eq!(ffmpeg_frame_count(&path), 30);

    let decoded = raw_frames(&ffmpeg_decode_raw(&path, None), RUNG.0, RUNG.1);
    let quality = mean_psnr(&decoded, &frames).unwrap();
    eprintln!(
        "{codec} 256x144 @ 300 kbit/s: {quality:.2} dB, {} bytes",
        encoded.samples.iter().map(|s| s.data.len()).sum::<usize>()
    );
    assert!(quality > floor, "{codec}: PSNR {quality:.2} dB is below the {floor} dB floor");
    // The encoder's own figure (reconstruction or re-decode) is what ffmpeg sees.
    assert!((encoded.psnr - quality).abs() < 0.05, "{codec}: reports {:.3} dB, ffmpeg {quality:.3} dB", encoded.psnr);
}

#[test]
fn bitrate_follows_the_target() {
    let frames = scaled_source_frames(90);
    for codec in [VideoCodec::H264, VideoCodec::Av1] {
        let mut achieved = Vec::new();
        for target in [150u32, 600] {
            let settings = EncoderSettings {
                codec,
                width: RUNG.0,
                height: RUNG.1,
                bitrate_kbps: target,
                frame_rate: 30.0,
                speed: SpeedPreset::Veryfast,
                threads: 1,
            };
            let encoded = encode_segment(&settings, &frames).unwrap();
            let bytes: usize = encoded.samples.iter().map(|s| s.data.len()).sum();
            let kbps = bytes as f64 * 8.0 / 3.0 / 1000.0;
            eprintln!("{codec} target {target} kbit/s: {kbps:.0} kbit/s");
            assert!(
                kbps > 0.5 * f64::from(target) && kbps < 1.5 * f64::from(target),
                "{codec}: {kbps:.0} for {target}"
            );
            achieved.push(kbps);
        }
        assert!(achieved[1] > 2.5 * achieved[0], "{codec}: {achieved:?}");
    }
}

#[test]
fn h264_rung_decodes_in_ffmpeg_with_quality() {
    check_encode(VideoCodec::H264, H264_PSNR_FLOOR, "h264");
}

#[test]
fn av1_rung_decodes_in_ffmpeg_with_quality() {
    check_encode(VideoCodec::Av1, AV1_PSNR_FLOOR, "av1");
}

#[test]
fn codec_strings() {
    let frames = scaled_source_frames(2);
    let h264 = encode(VideoCodec::H264, &frames).config.codec_string().unwrap();
    assert!(h264.starts_with("avc1.42"), "openh264 is Constrained Baseline: {h264}");
    assert_eq!(h264.len(), "avc1.42E00C".len());
    assert_eq!(encode(VideoCodec::Av1, &frames).config.codec_string().unwrap(), "av01.0.00M.08");
}

#[test]
fn scaled_frames_match_ffmpeg_closely() {
    let path = fixtures::faststart();
    let ours = decode_file(&path, Some(RUNG));
    let theirs = raw_frames(&fixtures::ffmpeg_reference_raw(&path, Some(RUNG)), RUNG.0, RUNG.1);
    let quality = mean_psnr(&ours, &theirs).unwrap();
    assert!(quality > 35.0, "our bicubic vs ffmpeg's Lanczos: {quality:.2} dB");
}
