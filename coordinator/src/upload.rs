//! Uploads: open one with libavformat, plan its segments, normalise its
//! audio to AAC-LC, probe it for a per-title ladder when asked, and hand each
//! source segment to a sink (a store writer, a test, `tessera segment`).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::wire::SourceInfo;
use tessera_core::Ladder;
use tessera_media::av::audio::NormalisedAudio;
use tessera_media::av::{AudioInfo, SourceFile};
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
    /// The audio renditions, one per kept track (empty: no audio).
    #[serde(default)]
    pub audio: Vec<AudioSummary>,
    /// The per-title probe's figures (empty unless the ladder asked for one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_title: Vec<RungProbe>,
}

/// One of the source's audio tracks as its rendition carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioSummary {
    /// AAC bitrate.
    pub bitrate_kbps: u32,
    /// Priming samples (encoder delay) to trim.
    pub priming: u64,
    /// Language tag in the container.
    #[serde(default)]
    pub language: Option<String>,
    /// Title in the container.
    #[serde(default)]
    pub title: Option<String>,
    /// The container marks it as the default track.
    #[serde(default)]
    pub default: bool,
}

/// Segments the per-title probe samples.
pub const PROBE_SAMPLES: usize = 3;

/// An opened, planned upload.
#[derive(Debug)]
pub struct UploadPlan {
    /// The upload.
    pub source: SourceFile,
    /// Its segments.
    pub spans: Vec<SegmentSpan>,
    /// The audio tracks it keeps, each as AAC-LC (empty without audio).
    pub audio: Vec<NormalisedAudio>,
    /// What the container says of each kept track (as `audio`).
    pub audio_tracks: Vec<AudioInfo>,
}

/// The audio tracks a job keeps: all of them, or those whose language is
/// in `languages` (ISO 639 tags as the container gives them, any case).
fn kept_tracks(tracks: &[AudioInfo], languages: &[String]) -> Result<Vec<AudioInfo>, MediaError> {
    if languages.is_empty() {
        return Ok(tracks.to_vec());
    }
    let wanted =
        |t: &AudioInfo| t.language.as_ref().is_some_and(|l| languages.iter().any(|w| w.eq_ignore_ascii_case(l)));
    let kept: Vec<AudioInfo> = tracks.iter().filter(|t| wanted(t)).cloned().collect();
    if kept.is_empty() && !tracks.is_empty() {
        let have: Vec<String> =
            tracks.iter().map(|t| t.language.clone().unwrap_or_else(|| "untagged".into())).collect();
        return Err(MediaError::Unsupported(format!(
            "no audio track in {} (the source's tracks: {})",
            languages.join(", "),
            have.join(", ")
        )));
    }
    Ok(kept)
}

impl UploadPlan {
    /// Opens `path`, plans `target`-long segments and normalises the audio
    /// tracks it keeps (every one, or those in `languages`).
    pub fn open(path: &Path, target: Duration, limits: &Limits, languages: &[String]) -> Result<Self, MediaError> {
        let source = SourceFile::open(path, limits)?;
        let spans = source.plan(target)?;
        let (mut audio, mut audio_tracks) = (Vec::new(), Vec::new());
        for info in kept_tracks(&source.info.audio, languages)? {
            let Some(a) = NormalisedAudio::from_track(&source, &info, &spans, AUDIO_KBPS)? else { continue };
            match &a.transcoded_from {
                Some(codec) => {
                    tracing::info!(%codec, stream = info.index, kbps = AUDIO_KBPS, "audio encoded to AAC-LC")
                }
                None => tracing::debug!(codec = %info.codec, stream = info.index, "AAC-LC audio copied"),
            }
            audio.push(a);
            audio_tracks.push(info);
        }
        Ok(Self { source, spans, audio, audio_tracks })
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
            audio: self
                .audio
                .iter()
                .zip(&self.audio_tracks)
                .map(|(a, info)| AudioSummary {
                    bitrate_kbps: a.bitrate_kbps,
                    priming: a.priming,
                    language: info.language.clone(),
                    title: info.title.clone(),
                    default: info.default,
                })
                .collect(),
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
        self.source.cut::<MediaError>(&self.probe_spans(), &[], |segment| {
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
        self.source.cut(&self.spans, &self.audio, |segment| {
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

/// Opens `path`, cuts it into `target`-long segments (keeping every audio
/// track) and calls `sink` with each in order. Returns the plan.
pub fn segment_source<E: From<MediaError>>(
    path: &Path,
    target: Duration,
    limits: &Limits,
    sink: impl FnMut(SourceSegment) -> Result<(), E>,
) -> Result<UploadPlan, E> {
    let plan = UploadPlan::open(path, target, limits, &[])?;
    plan.cut(sink)?;
    Ok(plan)
}
