//! Segmenting at the target duration whatever the keyframes: pre-roll from
//! the keyframe before the cut gives the same frames as decoding the whole file.

use std::time::Duration;

use tessera_media::source_segment::SourceSegment;

use crate::fixtures;
use crate::{cut, decode_file, decode_segment};

#[test]
fn segments_of_the_target_length_between_keyframes() {
    // Keyframes at 0 s and 1.3 s only; 1 s segments.
    let path = fixtures::two_gops();
    let (source, segments) = cut(&path, Duration::from_secs(1)).unwrap();
    assert_eq!(source.info.video.keyframes, 2);
    assert_eq!(segments.len(), 3);
    let whole = decode_file(&path, None);
    let mut joined = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        let v = &segment.header.video;
        assert_eq!((v.start, v.end, v.frames), (i as i64 * 15360, (i as i64 + 1) * 15360, 30), "segment {i}");
        let frames = decode_segment(segment, None);
        assert_eq!(frames.len(), 30, "segment {i}");
        assert!(frames.iter().all(|f| f.duration == 512));
        joined.extend(frames);
    }
    // Segment 1 starts between keyframes: it decodes from the one at 0 s.
    assert!(segments[1].video().next().is_some_and(|p| p.key && p.pts == 0));
    assert!(segments[1].video().count() > 30, "pre-roll packets travel with the segment");
    assert_eq!(joined.len(), whole.len());
    for (i, (a, b)) in joined.iter().zip(&whole).enumerate() {
        assert_eq!((a.pts, a.duration), (b.pts, b.duration), "frame {i} timing");
        assert!(a.y == b.y && a.u == b.u && a.v == b.v, "frame {i} differs from the whole-file decode");
    }
}

#[test]
fn cutting_is_deterministic_and_round_trips() {
    let path = fixtures::high_bframes();
    let (_, first) = cut(&path, Duration::from_secs(1)).unwrap();
    let (_, second) = cut(&path, Duration::from_secs(1)).unwrap();
    for (a, b) in first.iter().zip(&second) {
        let bytes = a.to_bytes().unwrap();
        assert_eq!(bytes, b.to_bytes().unwrap(), "segment {} differs between runs", a.header.seq);
        assert_eq!(&SourceSegment::parse(&bytes).unwrap(), a);
    }
}

#[test]
fn malformed_segments_are_errors_not_panics() {
    let (_, segments) = cut(&fixtures::baseline(), Duration::from_secs(1)).unwrap();
    let bytes = segments[0].to_bytes().unwrap();
    for cut_at in [0, 3, 7, 11, 40, bytes.len() / 2, bytes.len() - 1] {
        assert!(SourceSegment::parse(&bytes[..cut_at]).is_err(), "cut at {cut_at}");
    }
    // Damaged packet bytes decode to fewer frames or an error, never a panic.
    let mut damaged = segments[0].clone();
    for p in damaged.packets.iter_mut().skip(1) {
        for b in p.data.iter_mut().skip(8).step_by(7) {
            *b ^= 0x5a;
        }
    }
    let mut n = 0;
    let _ = tessera_media::av::video::decode_video(&damaged, (320, 180), &mut |_| {
        n += 1;
        Ok(())
    });
}
