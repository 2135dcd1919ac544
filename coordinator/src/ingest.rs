//! Ingest: open an upload with libavformat, plan its segments, normalise its
//! audio to AAC-LC, probe it for a per-title ladder when asked, and hand each
//! source segment to a sink (a store writer, a test, `tessera segment`).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::wire::SourceInfo;
use tessera_core::Ladder;
use tessera_media::av::audio::NormalisedAudio;
use tessera_media::av::SourceFile;
use tessera_media::per_title::RungProbe;
use tessera_media::{Limits, MediaError, SegmentSpan};

use crate::error::CoordinatorError;

/// Bitrate of the audio rendition when the source's audio has to be encoded.
pub const AUDIO_KBPS: u32 = 128;

/// One source segment ready to store as `sources/{job}/{seq:06}.seg`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSegment {
    /// Segment number from 0.
    pub seq: u32,
    /// Presentation start in seconds from the source's first frame.
    pub start_secs: f64,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Frames it shows.
    pub frames: usize,
    /// Packets decoded before its first frame (0 when it starts on a keyframe).
    pub preroll: usize,
    /// The serialised segment.
    pub bytes: Vec<u8>,
}

/// What planning an upload found, as the job needs it (the cutting child
/// process sends it to the coordinator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// The picture as shown, rate, duration, frames.
    pub source: SourceInfo,
    /// Number of segments.
    pub segments: u32,
    /// The audio rendition (None: no audio).
    pub audio: Option<AudioSummary>,
    /// The per-title probe's figures (empty unless the ladder asked for one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_title: Vec<RungProbe>,
}

/// The source's audio as the audio rendition carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioSummary {
    /// AAC bitrate.
    pub bitrate_kbps: u32,
    /// Priming samples (encoder delay) to trim.
    pub priming: u64,
}

/// Segments the per-title probe samples.
pub const PROBE_SAMPLES: usize = 3;

/// An opened, planned upload.
#[derive(Debug)]
pub struct IngestPlan {
    /// The upload.
    pub source: SourceFile,
    /// Its segments.
    pub spans: Vec<SegmentSpan>,
    /// Its audio as AAC-LC (None without audio).
    pub audio: Option<NormalisedAudio>,
}

impl IngestPlan {
    /// Opens `path`, plans `target`-long segments and normalises the audio.
    pub fn open(path: &Path, target: Duration, limits: &Limits) -> Result<Self, MediaError> {
        let source = SourceFile::open(path, limits)?;
        let spans = source.plan(target)?;
        let audio = NormalisedAudio::from_source(&source, &spans, AUDIO_KBPS)?;
        if let (Some(a), Some(info)) = (&audio, &source.info.audio) {
            match &a.transcoded_from {
                Some(codec) => tracing::info!(%codec, kbps = AUDIO_KBPS, "audio encoded to AAC-LC"),
                None => tracing::debug!(codec = %info.codec, "AAC-LC audio copied"),
            }
        }
        if source.info.audio_streams > 1 {
            tracing::warn!(streams = source.info.audio_streams, "several audio tracks: only the first is kept");
        }
        Ok(Self { source, spans, audio })
    }

    /// What the job needs to know of the plan.
    pub fn summary(&self) -> Result<PlanSummary, CoordinatorError> {
        let segments =
            u32::try_from(self.spans.len()).map_err(|_| CoordinatorError::Internal("too many segments".into()))?;
        let v = &self.source.info.video;
        Ok(PlanSummary {
            source: SourceInfo {
                width: v.display_width,
                height: v.display_height,
                frame_rate: v.frame_rate,
                duration_secs: v.duration_secs,
                frames: self.spans.iter().map(|s| s.frames as u64).sum(),
            },
            segments,
            audio: self.audio.as_ref().map(|a| AudioSummary { bitrate_kbps: a.bitrate_kbps, priming: a.priming }),
            per_title: Vec::new(),
        })
    }

    /// The segments the per-title probe samples: up to [`PROBE_SAMPLES`],
    /// spread evenly (the middle of each third).
    fn probe_spans(&self) -> Vec<SegmentSpan> {
        let n = self.spans.len();
        let k = PROBE_SAMPLES.min(n);
        let mut picks: Vec<usize> = (0..k).map(|i| (2 * i + 1) * n / (2 * k)).collect();
        picks.dedup();
        picks.into_iter().filter_map(|i| self.spans.get(i).cloned()).collect()
    }

    /// The per-title probe ([`tessera_media::per_title`]) of `ladder`'s rungs
    /// for this source, on a few sampled segments.
    pub fn probe_ladder(&self, ladder: &Ladder) -> Result<Vec<RungProbe>, CoordinatorError> {
        let v = &self.source.info.video;
        let heights: Vec<u32> =
            ladder.for_source(v.display_width.min(v.display_height))?.iter().map(|r| r.height).collect();
        let mut samples = Vec::new();
        self.source.cut::<MediaError>(&self.probe_spans(), None, |segment| {
            samples.push(segment);
            Ok(())
        })?;
        Ok(tessera_media::per_title::probe(&samples, &heights, v.frame_rate)?)
    }

    /// Cuts every segment, calling `sink` with each in order.
    pub fn cut<E: From<MediaError>>(&self, mut sink: impl FnMut(SourceSegment) -> Result<(), E>) -> Result<(), E> {
        let (num, den) = self.source.info.video.time_base;
        let secs = |ticks: i64| ticks as f64 * f64::from(num) / f64::from(den);
        let origin = self.spans.first().map_or(0, |s| s.start);
        self.source.cut(&self.spans, self.audio.as_ref(), |segment| {
            let span = &self.spans[segment.header.seq as usize];
            let bytes = segment.to_bytes()?;
            sink(SourceSegment {
                seq: span.seq,
                start_secs: secs(span.start - origin),
                duration_secs: secs(span.end - span.start),
                frames: span.frames,
                preroll: segment.video().count().saturating_sub(span.frames),
                bytes,
            })
        })
    }
}

/// Opens `path`, cuts it into `target`-long segments and calls `sink` with
/// each in order. Returns the plan.
pub fn segment_source<E: From<MediaError>>(
    path: &Path,
    target: Duration,
    limits: &Limits,
    sink: impl FnMut(SourceSegment) -> Result<(), E>,
) -> Result<IngestPlan, E> {
    let plan = IngestPlan::open(path, target, limits)?;
    plan.cut(sink)?;
    Ok(plan)
}
