//! Source segments: one segment of the upload, stream-copied into a small
//! self-contained fragmented MP4 (init + one fragment with the video and
//! audio tracks) that any worker or ffprobe can read on its own.
//!
//! Video keeps exact presentation times: tfdt is the raw decode time and the
//! signed composition offsets (trun v1) carry the edit-list shift. Audio keeps
//! its raw media timeline (encoder priming included).

use std::io::{Read, Seek};

use crate::cmaf::{init_segment, media_segment, FragmentSample, SampleEntry, TrackRun, TrackSpec};
use crate::demux::{Mp4Source, Sample};
use crate::error::{MediaError, Result};
use crate::segmenter::SegmentPlan;

/// Track id of the video track in a source segment.
pub const VIDEO_TRACK_ID: u32 = 1;
/// Track id of the audio track in a source segment.
pub const AUDIO_TRACK_ID: u32 = 2;

fn run<'a>(track_id: u32, shift: i64, samples: &[Sample], data: &'a [Vec<u8>]) -> Result<TrackRun<'a>> {
    if samples.len() != data.len() {
        return Err(MediaError::Mux {
            kind: "trun",
            reason: format!("{} samples but {} payloads", samples.len(), data.len()),
        });
    }
    let first = samples.first().ok_or_else(|| MediaError::Mux { kind: "trun", reason: "empty run".into() })?;
    let base = u64::try_from(first.dts + shift)
        .map_err(|_| MediaError::Mux { kind: "tfdt", reason: format!("negative decode time {}", first.dts + shift) })?;
    let samples = samples
        .iter()
        .zip(data)
        .map(|(s, d)| {
            let offset = i32::try_from(s.pts - (s.dts + shift)).map_err(|_| MediaError::Mux {
                kind: "trun",
                reason: format!("composition offset {} out of range", s.pts - s.dts - shift),
            })?;
            Ok(FragmentSample { duration: s.duration, composition_offset: offset, is_sync: s.is_sync, data: d })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TrackRun { track_id, base_decode_time: base, samples })
}

/// Reads a plan's samples from the source file and writes its source segment.
pub fn cut_source_segment<R: Read + Seek>(r: &mut R, source: &Mp4Source, plan: &SegmentPlan) -> Result<Vec<u8>> {
    let video = source.read_samples(r, source.video.samples.get(plan.span.video.clone()).unwrap_or_default())?;
    let audio = match &source.audio {
        Some(a) => source.read_samples(r, a.samples.get(plan.audio.clone()).unwrap_or_default())?,
        None => Vec::new(),
    };
    write_source_segment(source, plan, &video, &audio)
}

/// Writes one source segment. `video` and `audio` hold the bytes of the
/// plan's video and audio samples, in order.
pub fn write_source_segment(
    source: &Mp4Source,
    plan: &SegmentPlan,
    video: &[Vec<u8>],
    audio: &[Vec<u8>],
) -> Result<Vec<u8>> {
    let v = &source.video;
    let mut tracks = vec![TrackSpec {
        track_id: VIDEO_TRACK_ID,
        timescale: v.timescale,
        width: v.width,
        height: v.height,
        entry: SampleEntry::Avc(v.config.clone()),
        media_start: 0,
    }];
    let video_samples = v.samples.get(plan.span.video.clone()).ok_or_else(|| MediaError::Mux {
        kind: "trun",
        reason: format!("video range {:?} is outside the track", plan.span.video),
    })?;
    // Audio keeps its raw media time, so the decode-time shift is the whole edit shift.
    let mut runs = vec![run(VIDEO_TRACK_ID, v.decode_offset, video_samples, video)?];
    if let Some(a) = &source.audio {
        if !plan.audio.is_empty() {
            tracks.push(TrackSpec {
                track_id: AUDIO_TRACK_ID,
                timescale: a.timescale,
                width: 0,
                height: 0,
                entry: SampleEntry::Aac(a.config.clone()),
                media_start: 0,
            });
            let audio_samples = a.samples.get(plan.audio.clone()).ok_or_else(|| MediaError::Mux {
                kind: "trun",
                reason: format!("audio range {:?} is outside the track", plan.audio),
            })?;
            runs.push(run(AUDIO_TRACK_ID, a.decode_offset, audio_samples, audio)?);
        }
    }
    let mut out = init_segment(&tracks)?;
    out.extend(media_segment(plan.span.seq + 1, &runs)?);
    Ok(out)
}
