//! Every kind of bad input yields its own error naming the problem.

use std::io::Cursor;

use tessera_media::{Limits, MediaError, Mp4Source};

use crate::{fixtures, open};

fn error_for(path: &std::path::Path) -> MediaError {
    open(path).err().unwrap_or_else(|| panic!("{} was accepted", path.display()))
}

#[test]
fn zero_byte_file() {
    let err = Mp4Source::open(&mut Cursor::new(Vec::new()), &Limits::default()).unwrap_err();
    assert!(matches!(err, MediaError::Empty), "{err}");
    assert!(err.to_string().contains("empty"));
}

#[test]
fn random_bytes_are_not_mp4() {
    let err = error_for(&fixtures::random_bytes());
    assert!(matches!(err, MediaError::NotMp4(_)), "{err}");
    assert!(err.to_string().starts_with("not an MP4/MOV file: it starts with "), "{err}");
}

#[test]
fn truncated_file_names_box_and_offset() {
    let err = error_for(&fixtures::truncated());
    match &err {
        MediaError::Truncated { kind, offset, .. } => {
            assert_eq!(kind, "mdat");
            assert!(*offset > 0);
        }
        other => panic!("expected Truncated, got {other}"),
    }
    assert!(err.to_string().contains("'mdat' box at offset"), "{err}");
}

#[test]
fn truncated_moov_at_end() {
    let bytes = std::fs::read(fixtures::high_bframes()).unwrap();
    let cut = &bytes[..bytes.len() - 100];
    let err = Mp4Source::open(&mut Cursor::new(cut), &Limits::default()).unwrap_err();
    assert!(matches!(&err, MediaError::Truncated { kind, .. } if kind == "moov"), "{err}");
}

#[test]
fn audio_only_has_no_video_track() {
    let err = error_for(&fixtures::audio_only());
    assert!(matches!(err, MediaError::NoVideoTrack { .. }), "{err}");
    assert!(err.to_string().contains("soun aac"), "{err}");
}

#[test]
fn hevc_is_named() {
    let err = error_for(&fixtures::hevc());
    assert!(matches!(err, MediaError::UnsupportedVideoCodec { codec: "hevc", .. }), "{err}");
    assert!(err.to_string().contains("hevc"), "{err}");
}

#[test]
fn ten_bit_h264_is_rejected() {
    let err = error_for(&fixtures::high10());
    assert!(matches!(&err, MediaError::UnsupportedH264Format { bit_depth: 10, .. }), "{err}");
    assert!(err.to_string().contains("10-bit"), "{err}");
}

#[test]
fn yuv422_h264_is_rejected() {
    let err = error_for(&fixtures::yuv422());
    assert!(matches!(&err, MediaError::UnsupportedH264Format { chroma: "4:2:2", .. }), "{err}");
}

#[test]
fn limits_are_enforced() {
    let mut file = std::fs::File::open(fixtures::faststart()).unwrap();
    let limits = Limits { max_width: 256, ..Limits::default() };
    let err = Mp4Source::open(&mut file, &limits).unwrap_err();
    assert_eq!(err.to_string(), "video width 320 exceeds the limit of 256");
    let limits = Limits { max_frames: 60, ..Limits::default() };
    let err = Mp4Source::open(&mut file, &limits).unwrap_err();
    assert_eq!(err.to_string(), "video frame count 90 exceeds the limit of 60");
}

#[test]
fn non_aac_audio_is_skipped_with_a_warning() {
    let (source, _) = open(&fixtures::mp3_audio()).expect("video still accepted");
    assert!(source.audio.is_none());
    assert_eq!(source.warnings.len(), 1, "{:?}", source.warnings);
    assert!(source.warnings[0].contains("mp3") && source.warnings[0].contains("skipped"), "{:?}", source.warnings);
}

#[test]
fn bad_inputs_are_classified_as_bad_input() {
    for path in [fixtures::random_bytes(), fixtures::truncated(), fixtures::hevc(), fixtures::audio_only()] {
        assert!(error_for(&path).is_bad_input());
    }
}
