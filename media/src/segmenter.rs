//! The segmenter: where segments start and end, and which packets a worker
//! needs to produce each one. A pure function of packet timestamps and
//! keyframe flags, never bytes.
//!
//! Segments are cut on a fixed grid of the target duration from the first
//! shown frame, at the first frame at or after each grid line, whatever the
//! keyframes: every segment but the last lasts the target within one frame.
//! A segment whose start is not a keyframe carries the packets from the
//! keyframe before it (its pre-roll); the worker decodes them and drops the
//! frames before the cut. Its packets end at the last packet, in decode order,
//! of a frame it shows, so reordered (B-) frames travel with it.

use std::ops::Range;

use crate::error::{MediaError, Result};

/// What the segmenter knows of one video packet (decode order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTiming {
    /// Presentation time.
    pub pts: i64,
    /// Duration (0 when unknown).
    pub duration: i64,
    /// A keyframe: decoding can start here.
    pub key: bool,
    /// Decoded but never shown (before an edit list's start).
    pub discard: bool,
}

/// One planned segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpan {
    /// Segment number, from 0.
    pub seq: u32,
    /// First presentation time shown (inclusive).
    pub start: i64,
    /// Presentation time where it ends (exclusive): the next segment's start.
    pub end: i64,
    /// The packets (decode-order indices) a worker decodes for it.
    pub decode: Range<usize>,
    /// Frames it shows.
    pub frames: usize,
}

impl SegmentSpan {
    /// Packets decoded only to reach the first shown frame.
    pub fn is_cut_between_keyframes(&self, packets: &[PacketTiming]) -> bool {
        packets.get(self.decode.start).is_some_and(|p| p.pts != self.start)
    }
}

/// Plans the segments of a video stream from its packets in decode order.
/// `target` is the segment duration in the packets' time base. Packets before
/// the first keyframe cannot be decoded and are left out.
pub fn plan_segments(packets: &[PacketTiming], target: i64) -> Result<Vec<SegmentSpan>> {
    let target = target.max(1);
    let first_key = packets.iter().position(|p| p.key).ok_or_else(|| MediaError::Decode {
        index: 0,
        pts: 0,
        reason: "the video has no keyframe".into(),
    })?;
    let key_pts = packets[first_key].pts;
    // Shown frames: decodable and not discarded; leading pictures of an open
    // GOP that present before the first keyframe are not decodable either.
    let mut shown: Vec<usize> =
        (first_key..packets.len()).filter(|&i| !packets[i].discard && packets[i].pts >= key_pts).collect();
    shown.sort_by_key(|&i| (packets[i].pts, i));
    shown.dedup_by_key(|&mut i| packets[i].pts);
    let Some(&first) = shown.first() else {
        return Err(MediaError::Decode { index: first_key, pts: key_pts, reason: "no frame to show".into() });
    };
    let origin = packets[first].pts;
    let last = packets[*shown.last().unwrap_or(&first)];
    let end_of_stream = last.pts + last.duration.max(typical_duration(packets, &shown)).max(1);

    // Cut points: the first shown frame at or after each grid line.
    let mut starts: Vec<usize> = vec![0];
    let mut line = 1i64;
    for (n, &i) in shown.iter().enumerate().skip(1) {
        let pts = packets[i].pts;
        if pts >= origin.saturating_add(target.saturating_mul(line)) {
            starts.push(n);
            while pts >= origin.saturating_add(target.saturating_mul(line)) {
                line += 1;
            }
        }
    }
    let keys: Vec<usize> = (first_key..packets.len()).filter(|&i| packets[i].key).collect();
    let mut spans = Vec::with_capacity(starts.len());
    for (k, &from) in starts.iter().enumerate() {
        let to = starts.get(k + 1).copied().unwrap_or(shown.len());
        let frames = &shown[from..to];
        let start = packets[shown[from]].pts;
        let end = shown.get(to).map_or(end_of_stream, |&i| packets[i].pts);
        let first_decoded = frames.iter().copied().min().unwrap_or(shown[from]);
        let last_decoded = frames.iter().copied().max().unwrap_or(shown[from]);
        // The last keyframe at or before the first packet it shows, presenting no later than its start.
        let at = keys.partition_point(|&i| i <= first_decoded);
        let key = keys[..at].iter().rev().copied().find(|&i| packets[i].pts <= start).unwrap_or(first_key);
        spans.push(SegmentSpan {
            seq: u32::try_from(k).map_err(|_| MediaError::Unsupported("more than 4 billion segments".into()))?,
            start,
            end,
            decode: key..last_decoded + 1,
            frames: frames.len(),
        });
    }
    Ok(spans)
}

/// The most common gap between shown frames (the frame duration where packets carry none).
fn typical_duration(packets: &[PacketTiming], shown: &[usize]) -> i64 {
    let mut gaps: Vec<i64> = shown.windows(2).map(|w| packets[w[1]].pts - packets[w[0]].pts).collect();
    gaps.sort_unstable();
    gaps.get(gaps.len() / 2).copied().unwrap_or(1)
}

/// Which segment an audio frame starting at `start` lasting `duration` goes
/// to, given the segments' start times on the same clock: the cut falls at
/// the frame whose start is nearest each segment boundary, so audio segments
/// tile the track with no gap.
pub fn audio_segment_of(starts: &[i64], start: i64, duration: i64) -> usize {
    // Frame goes after boundary b when its middle is past it.
    let mid2 = 2 * i128::from(start) + i128::from(duration);
    starts.iter().skip(1).take_while(|&&b| mid2 > 2 * i128::from(b)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(frames: &[(i64, bool)]) -> Vec<PacketTiming> {
        frames.iter().map(|&(pts, key)| PacketTiming { pts, duration: 1, key, discard: false }).collect()
    }

    #[test]
    fn cuts_on_the_grid_whatever_the_keyframes() {
        // One keyframe every 10 frames, target 4: segments of 4 frames, each
        // decoding from the keyframe before it.
        let p = packets(&(0..22).map(|i| (i, i % 10 == 0)).collect::<Vec<_>>());
        let spans = plan_segments(&p, 4).unwrap();
        let got: Vec<_> = spans.iter().map(|s| (s.start, s.end, s.decode.clone(), s.frames)).collect();
        assert_eq!(
            got,
            vec![
                (0, 4, 0..4, 4),
                (4, 8, 0..8, 4),
                (8, 12, 0..12, 4),
                (12, 16, 10..16, 4),
                (16, 20, 10..20, 4),
                (20, 22, 20..22, 2)
            ]
        );
        assert!(!spans[0].is_cut_between_keyframes(&p));
        assert!(spans[1].is_cut_between_keyframes(&p));
    }

    #[test]
    fn reordered_frames_travel_with_their_segment() {
        // Decode order I0 P3 B1 B2 I4 P7 B5 B6 (pts), target 2: the segment
        // [2, 4) needs P3 and B2, and decodes from I0.
        let p =
            packets(&[(0, true), (3, false), (1, false), (2, false), (4, true), (7, false), (5, false), (6, false)]);
        let spans = plan_segments(&p, 2).unwrap();
        let got: Vec<_> = spans.iter().map(|s| (s.start, s.end, s.decode.clone())).collect();
        assert_eq!(got, vec![(0, 2, 0..3), (2, 4, 0..4), (4, 6, 4..7), (6, 8, 4..8)]);
    }

    #[test]
    fn starts_at_the_first_keyframe_and_skips_discarded_frames() {
        let mut p = packets(&[(-2, false), (-1, true), (0, false), (1, false), (2, false)]);
        p[1].discard = true;
        let spans = plan_segments(&p, 2).unwrap();
        let got: Vec<_> = spans.iter().map(|s| (s.start, s.end, s.decode.clone(), s.frames)).collect();
        assert_eq!(got, vec![(0, 2, 1..4, 2), (2, 3, 1..5, 1)]);
    }

    #[test]
    fn a_stream_without_keyframes_is_refused() {
        let err = plan_segments(&packets(&[(0, false), (1, false)]), 2).unwrap_err();
        assert!(err.to_string().contains("no keyframe"), "{err}");
    }

    #[test]
    fn audio_cut_at_nearest_frame() {
        // Boundary at 48000 samples: the frame at 47104 ends at 48128, its
        // middle (47616) is before the boundary; the one at 48128 is after.
        let starts = [0, 48_000];
        assert_eq!(audio_segment_of(&starts, 47_104, 1024), 0);
        assert_eq!(audio_segment_of(&starts, 48_128, 1024), 1);
        assert_eq!(audio_segment_of(&starts, -1024, 1024), 0);
    }
}
