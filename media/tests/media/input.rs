//! The input front end: what it accepts, and the exact errors for what it refuses.

use std::time::Duration;

use tessera_media::av::SourceFile;
use tessera_media::{Limits, MediaError};

use crate::fixtures;

fn open(path: &std::path::Path) -> Result<SourceFile, MediaError> {
    SourceFile::open(path, &Limits::default())
}

#[test]
fn empty_file_is_refused_by_name() {
    let path = fixtures::scratch("empty.mp4");
    std::fs::write(&path, b"").unwrap();
    let err = open(&path).unwrap_err();
    assert!(matches!(err, MediaError::Empty), "{err}");
    assert!(err.is_bad_input());
}

#[test]
fn random_bytes_are_refused() {
    let err = open(&fixtures::random_bytes()).unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    assert!(matches!(err, MediaError::Unrecognised(_) | MediaError::NoVideoTrack { .. }), "{err}");
}

#[test]
fn truncated_file_is_refused() {
    let err = open(&fixtures::truncated()).unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    let text = err.to_string();
    assert!(text.contains("truncated") || text.contains("cannot read the input"), "{text}");
}

#[test]
fn audio_only_file_names_what_it_found() {
    let err = open(&fixtures::audio_only()).unwrap_err();
    assert!(matches!(&err, MediaError::NoVideoTrack { found } if found.contains("aac")), "{err}");
}

#[test]
fn limits_name_the_limit() {
    let limits = Limits { max_width: 100, ..Limits::default() };
    let err = SourceFile::open(&fixtures::baseline(), &limits).unwrap_err();
    assert_eq!(err.to_string(), "video width 320 exceeds the limit of 100");
}

#[test]
fn every_codec_and_depth_is_read() {
    for (path, codec, depth) in [
        (fixtures::hevc(), "hevc", 8),
        (fixtures::high10(), "h264", 10),
        (fixtures::yuv422(), "h264", 8),
        (fixtures::mp3_audio(), "h264", 8),
    ] {
        let source = open(&path).unwrap();
        assert_eq!(
            (source.info.video.codec.as_str(), source.info.video.bit_depth),
            (codec, depth),
            "{}",
            path.display()
        );
        let frames = crate::decode_file(&path, None);
        assert_eq!(frames.len(), 30, "{}", path.display());
        assert_eq!((frames[0].width, frames[0].height), (320, 180));
    }
    let mp3 = open(&fixtures::mp3_audio()).unwrap();
    assert_eq!(mp3.info.audio.first().map(|a| a.codec.as_str()), Some("mp3"));
}

#[test]
fn mp3_audio_becomes_aac_lc_on_the_video_clock() {
    let source = open(&fixtures::mp3_audio()).unwrap();
    let spans = source.plan(Duration::from_secs(2)).unwrap();
    let audio = tessera_media::av::audio::NormalisedAudio::from_track(&source, &source.info.audio[0], &spans, 128)
        .unwrap()
        .unwrap();
    assert_eq!(audio.transcoded_from.as_deref(), Some("mp3"));
    let config = tessera_media::aac::AacConfig::from_asc(&audio.asc).unwrap();
    assert_eq!((config.object_type, config.channels, audio.sample_rate), (2, 2, 48_000));
    // Exactly the video's second, priming included, frames back to back.
    let samples: i64 = audio.packets.iter().map(|p| p.duration).sum();
    assert_eq!(samples - audio.priming as i64, 48_000, "audio lasts as long as the video");
    assert!(audio.packets.windows(2).all(|w| w[1].pts == w[0].pts + w[0].duration));
    assert_eq!(audio.packets[0].pts, 0);
}
