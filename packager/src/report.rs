//! `report.json`: per rendition, what was produced and what it cost.

use serde::{Deserialize, Serialize};
use tessera_core::wire::{JobPlan, SourceInfo};

use crate::rendition::Rendition;

/// One rendition's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RenditionReport {
    /// Rendition name.
    pub name: String,
    /// RFC 6381 codec string.
    pub codec: String,
    /// Width (0 for audio).
    pub width: u32,
    /// Height (0 for audio).
    pub height: u32,
    /// Segments.
    pub segments: usize,
    /// Bytes of all fragments.
    pub bytes: u64,
    /// Seconds of media.
    pub duration_secs: f64,
    /// Average bitrate, kbit/s.
    pub average_bitrate_kbps: f64,
    /// Highest segment bitrate, kbit/s.
    pub peak_bitrate_kbps: f64,
    /// Mean PSNR (all planes) against the source scaled to the rendition's size (video).
    pub psnr_db: Option<f64>,
    /// Mean PSNR of luma against the scaled source (video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_y_db: Option<f64>,
    /// Mean SSIM of luma against the scaled source (video).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssim: Option<f64>,
    /// CPU seconds spent producing it (varies run to run).
    pub encode_cpu_secs: f64,
    /// Every segment's bitrate and quality (video).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_quality: Vec<SegmentQuality>,
    /// Its HLS I-frame playlist for trick play (H.264 rungs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iframe_playlist: Option<String>,
    /// The DASH MPD lists its keyframe-only fragments (`{seq}.key.m4s`) as a
    /// trick-mode Representation (H.264 rungs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dash_trick_mode: bool,
    /// It carries the source's closed captions (CEA-608/708 in SEI).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed_captions: bool,
    /// Audio: its language, as the source tagged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// One video segment's bitrate and quality against the scaled source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentQuality {
    /// Segment number.
    pub seq: u32,
    /// Its average bitrate, kbit/s.
    pub bitrate_kbps: f64,
    /// Mean PSNR of luma, dB.
    pub psnr_y_db: f64,
    /// Mean SSIM of luma.
    pub ssim: f64,
}

/// How soon an upload could be watched (varies run to run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTiming {
    /// The rendition played first while the rest was encoded.
    pub first_rendition: String,
    /// Seconds from submission until the master playlist first listed it
    /// (the job's completion, when that came first).
    pub playable_after_secs: f64,
    /// Seconds from submission until the whole package was written.
    pub completed_after_secs: f64,
}

impl JobTiming {
    /// The timing of a VOD job whose plan names its first rendition and
    /// submission time; `playable_at_ms` is when it became playable, if before now.
    pub fn of(plan: &JobPlan, playable_at_ms: Option<u64>, now_ms: u64) -> Option<Self> {
        let (first, submitted) = (plan.first.clone()?, plan.submitted_at_ms?);
        let secs = |at: u64| round(at.saturating_sub(submitted) as f64 / 1000.0, 3);
        Some(Self {
            first_rendition: first,
            playable_after_secs: secs(playable_at_ms.unwrap_or(now_ms).min(now_ms)),
            completed_after_secs: secs(now_ms),
        })
    }
}

/// The whole job's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobReport {
    /// The source as the coordinator saw it.
    pub source: SourceInfo,
    /// Renditions, video first.
    pub renditions: Vec<RenditionReport>,
    /// How soon it could be watched (VOD uploads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<JobTiming>,
    /// The poster and seek-bar thumbnails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<ThumbnailsReport>,
}

/// The poster and the seek-bar thumbnails of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailsReport {
    /// The poster JPEG, relative to the output prefix.
    pub poster: String,
    /// The WebVTT thumbnail track.
    pub track: String,
    /// Thumbnails in all.
    pub count: u64,
    /// Seconds between thumbnails.
    pub interval_secs: f64,
    /// Size of a thumbnail.
    pub width: u32,
    /// Size of a thumbnail.
    pub height: u32,
    /// Sprite JPEGs (one per segment holding a thumbnail).
    pub sprites: usize,
    /// CPU seconds spent taking them (varies run to run).
    pub cpu_secs: f64,
}

impl ThumbnailsReport {
    /// The report of a finished thumbnails rendition.
    pub fn of(r: &Rendition) -> Option<Self> {
        let spec = crate::thumbnails::spec_of(r)?;
        let holding: Vec<_> = r.segments.iter().filter(|s| s.frames > 0).collect();
        let (width, height) = holding.first().map_or((0, 0), |s| (s.width, s.height));
        Some(Self {
            poster: crate::thumbnails::POSTER.into(),
            track: crate::thumbnails::TRACK.into(),
            count: holding.iter().map(|s| u64::from(s.frames)).sum(),
            interval_secs: spec.interval_secs,
            width,
            height,
            sprites: holding.len(),
            cpu_secs: round(r.cpu_secs(), 3),
        })
    }
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl RenditionReport {
    /// The figures of a finished rendition.
    pub fn of(r: &Rendition) -> Self {
        let (width, height) = r.size();
        Self {
            name: r.name(),
            codec: r.codec_string().to_string(),
            width,
            height,
            segments: r.segments.len(),
            bytes: r.bytes(),
            duration_secs: round(r.duration_secs(), 3),
            average_bitrate_kbps: round(r.average_bps() as f64 / 1000.0, 1),
            peak_bitrate_kbps: round(r.peak_bps() as f64 / 1000.0, 1),
            psnr_db: r.psnr().map(|p| round(p, 2)),
            psnr_y_db: r.psnr_y().map(|p| round(p, 2)),
            ssim: r.ssim().map(|p| round(p, 5)),
            encode_cpu_secs: round(r.cpu_secs(), 3),
            segment_quality: r
                .segments
                .iter()
                .filter_map(|s| {
                    Some(SegmentQuality {
                        seq: s.seq,
                        bitrate_kbps: round(r.segment_bps(s) as f64 / 1000.0, 1),
                        psnr_y_db: round(s.psnr_y?, 2),
                        ssim: round(s.ssim?, 5),
                    })
                })
                .collect(),
            iframe_playlist: r.has_iframes().then(|| crate::hls::iframe_playlist_uri(r)),
            dash_trick_mode: r.has_key_frame_fragments(),
            closed_captions: r.closed_captions(),
            language: r.audio_track().and_then(|t| t.language.clone()),
        }
    }
}

impl JobReport {
    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        // Plain structs of numbers and strings always serialize.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
