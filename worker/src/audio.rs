//! Audio tasks: the source segment's AAC frames copied into the audio
//! rendition's CMAF fragment (no transcode in v1).

use std::io::Cursor;

use tessera_media::aac::AacConfig;
use tessera_media::cmaf::{media_segment, FragmentSample, TrackRun};
use tessera_media::{Limits, Mp4Source};

use crate::error::WorkerError;

/// A finished audio rendition segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioSegment {
    /// The CMAF fragment (moof + mdat), track 1.
    pub fragment: Vec<u8>,
    /// The AAC configuration for the init segment.
    pub config: AacConfig,
    /// Timescale (the sampling rate).
    pub timescale: u32,
    /// Decode time of the first AAC frame (= `tfdt`).
    pub start: u64,
    /// Duration in the timescale.
    pub duration: u64,
    /// AAC frames.
    pub frames: usize,
}

/// Copies the AAC frames of one source segment into a fragment numbered `seq + 1`.
pub fn copy_audio_segment(source_segment: &[u8], seq: u32) -> Result<AudioSegment, WorkerError> {
    let bad = |reason: String| WorkerError::BadSourceSegment { seq, reason };
    let mut reader = Cursor::new(source_segment);
    let source = Mp4Source::open(&mut reader, &Limits::default())?;
    let audio = source.audio.as_ref().ok_or_else(|| bad("has no audio track".into()))?;
    let first = audio.samples.first().ok_or_else(|| bad("has no audio frames".into()))?;
    let start = u64::try_from(first.dts).map_err(|_| bad(format!("negative audio start {}", first.dts)))?;
    let data = source.read_samples(&mut reader, &audio.samples)?;
    let samples = audio
        .samples
        .iter()
        .zip(&data)
        .map(|(s, d)| FragmentSample { duration: s.duration, composition_offset: 0, is_sync: true, data: d })
        .collect();
    let fragment = media_segment(seq + 1, &[TrackRun { track_id: 1, base_decode_time: start, samples }])?;
    Ok(AudioSegment {
        fragment,
        config: audio.config.clone(),
        timescale: audio.timescale,
        start,
        duration: audio.samples.iter().map(|s| u64::from(s.duration)).sum(),
        frames: audio.samples.len(),
    })
}
