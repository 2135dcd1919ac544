//! The segmenter: a pure state machine that cuts a video stream into closed-GOP
//! segments at the first IDR at or after the target duration, plus the rule
//! that cuts audio at the AAC frame nearest each video boundary.
//!
//! It sees only timestamps and sync flags, never bytes, so the same machine
//! serves VOD (fed a whole sample table) and live (fed frames as they arrive).

use std::ops::Range;
use std::time::Duration;

use crate::demux::{AudioTrack, Sample, VideoTrack};
use crate::error::{MediaError, Result};

/// A closed span of video samples forming one segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpan {
    /// Segment number, from 0.
    pub seq: u32,
    /// Video sample indices (decode order), starting at an IDR.
    pub video: Range<usize>,
    /// Presentation time of the first frame (track timescale).
    pub start_pts: i64,
    /// Presentation time where the segment ends (the next segment's start).
    pub end_pts: i64,
}

impl SegmentSpan {
    /// Presentation duration in track ticks.
    pub fn duration(&self) -> i64 {
        self.end_pts - self.start_pts
    }
}

#[derive(Debug, Clone)]
struct OpenSegment {
    start_index: usize,
    start_pts: i64,
    end_pts: i64,
}

/// Decides where segments end as video samples arrive in decode order.
#[derive(Debug, Clone)]
pub struct Segmenter {
    target: i64,
    next_index: usize,
    next_seq: u32,
    open: Option<OpenSegment>,
}

impl Segmenter {
    /// A segmenter cutting after `target` ticks of the track timescale.
    pub fn new(target: i64) -> Self {
        Self { target: target.max(1), next_index: 0, next_seq: 0, open: None }
    }

    /// A segmenter for a target duration at a timescale.
    pub fn with_duration(target: Duration, timescale: u32) -> Self {
        Self::new((target.as_secs_f64() * f64::from(timescale)).round() as i64)
    }

    /// Feeds the next video sample (decode order). Returns the segment it
    /// closes, if this sample is the IDR that starts the next one.
    pub fn push(&mut self, pts: i64, duration: u32, is_sync: bool) -> Result<Option<SegmentSpan>> {
        let index = self.next_index;
        self.next_index += 1;
        let end = pts + i64::from(duration);
        let Some(open) = &mut self.open else {
            if !is_sync {
                return Err(MediaError::InvalidH264(format!(
                    "video sample {index} (pts {pts}) starts the stream but is not a keyframe (IDR)"
                )));
            }
            self.open = Some(OpenSegment { start_index: index, start_pts: pts, end_pts: end });
            return Ok(None);
        };
        if is_sync && pts - open.start_pts >= self.target {
            let closed = SegmentSpan {
                seq: self.next_seq,
                video: open.start_index..index,
                start_pts: open.start_pts,
                end_pts: pts,
            };
            self.next_seq += 1;
            *open = OpenSegment { start_index: index, start_pts: pts, end_pts: end };
            return Ok(Some(closed));
        }
        open.end_pts = open.end_pts.max(end);
        Ok(None)
    }

    /// Closes the last segment at the end of the stream.
    pub fn finish(&mut self) -> Option<SegmentSpan> {
        let open = self.open.take()?;
        let span = SegmentSpan {
            seq: self.next_seq,
            video: open.start_index..self.next_index,
            start_pts: open.start_pts,
            end_pts: open.end_pts,
        };
        self.next_seq += 1;
        Some(span)
    }
}

/// Index of the audio frame whose start is nearest to `boundary` (video
/// ticks), searching from `from`; `samples.len()` (the end of the last frame)
/// is a candidate too.
fn nearest_audio_frame(samples: &[Sample], audio_ts: u32, from: usize, boundary: i64, video_ts: u32) -> usize {
    let target = i128::from(boundary) * i128::from(audio_ts);
    let start_of = |i: usize| -> i64 {
        match samples.get(i) {
            Some(s) => s.pts,
            None => samples.last().map_or(0, |s| s.pts + i64::from(s.duration)),
        }
    };
    let distance = |i: usize| (i128::from(start_of(i)) * i128::from(video_ts) - target).abs();
    let mut best = from.min(samples.len());
    while best < samples.len() && distance(best + 1) <= distance(best) {
        best += 1;
    }
    best
}

/// Cuts audio to match video segments: each boundary falls on the AAC frame
/// nearest the video boundary, so audio segments tile the track with no gap.
pub fn split_audio(audio: &AudioTrack, spans: &[SegmentSpan], video_timescale: u32) -> Vec<Range<usize>> {
    let mut ranges = Vec::with_capacity(spans.len());
    let mut start = 0;
    for (i, span) in spans.iter().enumerate() {
        let end = if i + 1 == spans.len() {
            audio.samples.len()
        } else {
            nearest_audio_frame(&audio.samples, audio.timescale, start, span.end_pts, video_timescale)
        };
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// One planned source segment: its video span and the audio frames that go with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPlan {
    /// The video span.
    pub span: SegmentSpan,
    /// Audio sample indices (empty without audio).
    pub audio: Range<usize>,
}

/// Plans every segment of a demuxed source.
pub fn plan_segments(video: &VideoTrack, audio: Option<&AudioTrack>, target: Duration) -> Result<Vec<SegmentPlan>> {
    let mut segmenter = Segmenter::with_duration(target, video.timescale);
    let mut spans = Vec::new();
    for s in &video.samples {
        spans.extend(segmenter.push(s.pts, s.duration, s.is_sync)?);
    }
    spans.extend(segmenter.finish());
    let audio_ranges = match audio {
        Some(a) => split_audio(a, &spans, video.timescale),
        None => vec![0..0; spans.len()],
    };
    Ok(spans.into_iter().zip(audio_ranges).map(|(span, audio)| SegmentPlan { span, audio }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(frames: &[(i64, bool)], target: i64) -> Vec<SegmentSpan> {
        let mut s = Segmenter::new(target);
        let mut out = Vec::new();
        for &(pts, sync) in frames {
            out.extend(s.push(pts, 1, sync).unwrap());
        }
        out.extend(s.finish());
        out
    }

    #[test]
    fn cuts_at_first_idr_at_or_after_target() {
        // IDR every 3 frames, target 4: cut at pts 6 (first IDR >= 4), then at 12.
        let frames: Vec<(i64, bool)> = (0..14).map(|i| (i, i % 3 == 0)).collect();
        let spans = run(&frames, 4);
        let ranges: Vec<_> = spans.iter().map(|s| s.video.clone()).collect();
        assert_eq!(ranges, vec![0..6, 6..12, 12..14]);
        assert_eq!((spans[0].start_pts, spans[0].end_pts), (0, 6));
        assert_eq!((spans[2].start_pts, spans[2].end_pts), (12, 14));
        assert_eq!(spans.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![0, 1, 2]);
    }

    #[test]
    fn long_gop_makes_a_long_segment() {
        let frames: Vec<(i64, bool)> = (0..10).map(|i| (i, i == 0 || i == 9)).collect();
        let spans = run(&frames, 2);
        assert_eq!(spans.iter().map(|s| s.video.clone()).collect::<Vec<_>>(), vec![0..9, 9..10]);
    }

    #[test]
    fn reordered_frames_extend_the_end() {
        // decode order I P B B with pts 0 3 1 2: the segment ends at 4.
        let mut s = Segmenter::new(100);
        for (pts, sync) in [(0, true), (3, false), (1, false), (2, false)] {
            assert!(s.push(pts, 1, sync).unwrap().is_none());
        }
        assert_eq!(s.finish().unwrap().end_pts, 4);
    }

    #[test]
    fn stream_must_start_with_idr() {
        let err = Segmenter::new(10).push(0, 1, false).unwrap_err();
        assert!(err.to_string().contains("not a keyframe"), "{err}");
    }

    #[test]
    fn audio_cut_at_nearest_frame() {
        let sample = |pts| Sample { dts: pts, pts, duration: 1024, offset: 0, size: 1, is_sync: true };
        let audio = AudioTrack {
            track_id: 2,
            timescale: 48000,
            config: crate::aac::AacConfig::from_asc(&[0x11, 0x90]).unwrap(),
            decode_offset: 0,
            samples: (0..100).map(|i| sample(i * 1024)).collect(),
        };
        // Video boundary at 1 s (90 kHz): 48000/1024 = 46.875 -> frame 47 starts nearest (48128 vs 47104).
        let spans = vec![
            SegmentSpan { seq: 0, video: 0..1, start_pts: 0, end_pts: 90_000 },
            SegmentSpan { seq: 1, video: 1..2, start_pts: 90_000, end_pts: 180_000 },
        ];
        assert_eq!(split_audio(&audio, &spans, 90_000), vec![0..47, 47..100]);
    }
}
