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

use std::collections::{BTreeMap, VecDeque};
use std::ops::Range;

use crate::error::{MediaError, Result};

/// What the segmenter knows of one video packet (decode order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketTiming {
    /// Presentation time.
    pub pts: i64,
    /// Decode time; `i64::MIN` when unknown (segments then close only at the end).
    pub dts: i64,
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
    /// The packets (decode-order indices from the stream's first packet) a worker decodes for it.
    pub decode: Range<usize>,
    /// Frames it shows.
    pub frames: usize,
}

/// The cut rule as a state machine fed video packets in decode order, so
/// that uploads (fed a whole packet index) and live broadcasts (fed packets
/// as they arrive) are cut alike. A segment closes as soon as no packet still
/// to come can change it: once a packet decodes at or after the next cut's
/// frame, every frame presenting before it has arrived.
#[derive(Debug, Clone)]
pub struct Segmenter {
    target: i64,
    first_seq: u32,
    next_seq: u32,
    /// Decode index of the next packet.
    next_index: usize,
    /// The first keyframe's presentation time, once seen.
    key_pts: Option<i64>,
    /// Keyframes still needed: (decode index, pts).
    keys: VecDeque<(usize, i64)>,
    /// Shown frames not yet in a closed segment: pts -> decode index.
    shown: BTreeMap<i64, usize>,
    /// The latest decode time seen.
    max_dts: i64,
    /// Presentation time 0 of the grid (the first shown frame).
    origin: Option<i64>,
    /// Start of the open segment.
    open_start: i64,
    /// The next grid line's number.
    line: i64,
    /// The shown frame presenting last so far: (pts, duration, 0 when unknown).
    latest: Option<(i64, i64)>,
    /// The smallest gap between neighbouring shown frames: where packets carry
    /// no durations, the last frame lasts one frame interval. (The gap to the
    /// frame before it is not that when a stream is cut off with the B-frames
    /// before its last P-frame missing.)
    min_gap: Option<i64>,
}

impl Segmenter {
    /// A segmenter cutting every `target` ticks of the packets' time base,
    /// numbering segments from `first_seq`.
    pub fn new(target: i64, first_seq: u32) -> Self {
        Self {
            target: target.max(1),
            first_seq,
            next_seq: first_seq,
            next_index: 0,
            key_pts: None,
            keys: VecDeque::new(),
            shown: BTreeMap::new(),
            max_dts: i64::MIN,
            origin: None,
            open_start: 0,
            line: 1,
            latest: None,
            min_gap: None,
        }
    }

    /// Feeds the next packet (decode order); returns the segments it closes.
    pub fn push(&mut self, p: PacketTiming) -> Result<Vec<SegmentSpan>> {
        let index = self.next_index;
        self.next_index += 1;
        let key_pts = match self.key_pts {
            Some(k) => k,
            // Nothing before the first keyframe can be decoded.
            None if p.key => *self.key_pts.insert(p.pts),
            None => return Ok(Vec::new()),
        };
        if p.key {
            self.keys.push_back((index, p.pts));
        }
        self.max_dts = self.max_dts.max(p.dts.min(p.pts));
        // Leading pictures of an open GOP that present before the first keyframe are not decodable either.
        let closed = self.origin.is_some_and(|o| p.pts < self.open_start.max(o));
        if !p.discard && p.pts >= key_pts && !closed {
            if self.latest.is_none_or(|(latest, _)| p.pts > latest) {
                self.latest = Some((p.pts, p.duration));
            }
            // Gaps in presentation order, not decode order: a reordered P-frame
            // arriving ahead of its B-frames must not count a whole mini-GOP.
            let before = self.shown.range(..p.pts).next_back().map(|(pts, _)| p.pts - pts);
            let after = self.shown.range(p.pts + 1..).next().map(|(pts, _)| pts - p.pts);
            for gap in before.into_iter().chain(after) {
                self.min_gap = Some(self.min_gap.map_or(gap, |g| g.min(gap)));
            }
            self.shown.entry(p.pts).or_insert(index);
        }
        self.close(false)
    }

    /// Ends the stream: returns the segments still open.
    pub fn finish(&mut self) -> Result<Vec<SegmentSpan>> {
        if self.key_pts.is_none() {
            return Err(MediaError::Decode { index: 0, pts: 0, reason: "the video has no keyframe".into() });
        }
        let spans = self.close(true)?;
        if self.next_seq == self.first_seq && spans.is_empty() {
            return Err(MediaError::Decode { index: 0, pts: 0, reason: "no frame to show".into() });
        }
        Ok(spans)
    }

    /// Number of the next segment to close.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// The first packet (decode index) a segment still to close may need:
    /// everything before it can be let go.
    pub fn first_needed(&self) -> usize {
        let first_shown = self.shown.values().copied().min().unwrap_or(self.next_index);
        self.keys.iter().rev().find(|(i, _)| *i <= first_shown).map_or(first_shown, |(i, _)| *i)
    }

    /// Where the stream's last frame ends: its own duration, else one frame interval.
    fn end_of_stream(&self) -> i64 {
        match self.latest {
            Some((pts, duration)) if duration > 0 => pts + duration,
            Some((pts, _)) => pts + self.min_gap.unwrap_or(1).max(1),
            None => i64::MIN,
        }
    }

    fn close(&mut self, last: bool) -> Result<Vec<SegmentSpan>> {
        let mut spans = Vec::new();
        loop {
            let origin = match self.origin {
                Some(o) => o,
                None => {
                    let Some((&first, _)) = self.shown.iter().next() else { break };
                    // No frame presenting earlier can come once a packet decodes at or after it.
                    if !(last || self.max_dts >= first) {
                        break;
                    }
                    self.open_start = first;
                    *self.origin.insert(first)
                }
            };
            let line = origin.saturating_add(self.target.saturating_mul(self.line));
            let cut = self.shown.range(line..).next().map(|(pts, _)| *pts);
            let end = match cut {
                Some(cut) if last || self.max_dts >= cut => cut,
                Some(_) => break,
                None if last => self.end_of_stream(),
                None => break,
            };
            let frames: Vec<usize> = self.shown.range(self.open_start..end).map(|(_, i)| *i).collect();
            if frames.is_empty() {
                break;
            }
            let first_decoded = frames.iter().copied().min().unwrap_or(0);
            let last_decoded = frames.iter().copied().max().unwrap_or(0);
            // The last keyframe at or before the first packet it shows, presenting no later than its start.
            let key = self
                .keys
                .iter()
                .rev()
                .find(|(i, pts)| *i <= first_decoded && *pts <= self.open_start)
                .or(self.keys.front())
                .map_or(first_decoded, |(i, _)| *i);
            spans.push(SegmentSpan {
                seq: self.next_seq,
                start: self.open_start,
                end,
                decode: key..last_decoded + 1,
                frames: frames.len(),
            });
            self.next_seq = self
                .next_seq
                .checked_add(1)
                .ok_or_else(|| MediaError::Unsupported("more than 4 billion segments".into()))?;
            self.shown = self.shown.split_off(&end);
            self.open_start = end;
            while origin.saturating_add(self.target.saturating_mul(self.line)) <= end {
                self.line += 1;
            }
            // Keyframes no segment to come decodes from.
            let needed = self.first_needed();
            while self.keys.len() > 1 && self.keys.get(1).is_some_and(|(i, _)| *i <= needed) {
                self.keys.pop_front();
            }
            if cut.is_none() {
                break;
            }
        }
        Ok(spans)
    }
}

/// Plans the segments of a whole video stream from its packets in decode
/// order. `target` is the segment duration in the packets' time base.
/// Packets before the first keyframe cannot be decoded and are left out.
/// Containers' decode times are not trusted here (Matroska has none): with
/// every packet at hand, segments are decided at the end.
pub fn plan_segments(packets: &[PacketTiming], target: i64) -> Result<Vec<SegmentSpan>> {
    let mut segmenter = Segmenter::new(target, 0);
    let mut spans = Vec::new();
    for p in packets {
        spans.extend(segmenter.push(PacketTiming { dts: i64::MIN, ..*p })?);
    }
    spans.extend(segmenter.finish()?);
    Ok(spans)
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
        frames
            .iter()
            .enumerate()
            .map(|(i, &(pts, key))| PacketTiming { pts, dts: i as i64 - 2, duration: 1, key, discard: false })
            .collect()
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
    fn without_durations_the_last_frame_lasts_one_frame_interval() {
        // Live-like: decode order I0 P3 B1 B2 P6 B4 B5, no durations; the end is 7, not 6 + 3.
        let mut p = packets(&[(0, true), (3, false), (1, false), (2, false), (6, false), (4, false), (5, false)]);
        for t in &mut p {
            t.duration = 0;
        }
        let spans = plan_segments(&p, 100).unwrap();
        assert_eq!(spans.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(), [(0, 7)]);
        // Cut off after P6, before its B-frames: still one interval after it, not the gap back to P3.
        let spans = plan_segments(&p[..5], 100).unwrap();
        assert_eq!(spans.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>(), [(0, 7)]);
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
