//! What the packager knows of one finished rendition: its segments in order
//! and the figures every manifest and the report need.

use tessera_core::wire::{RenditionSpec, SegmentDone, TrackConfig};

use crate::error::PackagerError;

/// A rendition with every segment done.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    /// What it is.
    pub spec: RenditionSpec,
    /// Its segments, by `seq`.
    pub segments: Vec<SegmentDone>,
}

impl Rendition {
    /// Collects a rendition's segments, checking that they are numbered
    /// 0..n, share one configuration and tile the timeline.
    pub fn new(spec: RenditionSpec, mut segments: Vec<SegmentDone>) -> Result<Self, PackagerError> {
        let name = spec.name();
        segments.sort_by_key(|s| s.seq);
        let first = segments.first().ok_or_else(|| PackagerError::Incomplete(format!("{name} has no segment")))?;
        for (i, s) in segments.iter().enumerate() {
            if s.seq as usize != i {
                return Err(PackagerError::Incomplete(format!("{name} lacks segment {i}")));
            }
            if s.config != first.config || s.timescale != first.timescale {
                return Err(PackagerError::ConfigMismatch { rendition: name.clone(), seq: s.seq });
            }
        }
        Ok(Self { spec, segments })
    }

    /// Rendition name.
    pub fn name(&self) -> String {
        self.spec.name()
    }

    /// True for the audio rendition.
    pub fn is_audio(&self) -> bool {
        matches!(self.spec, RenditionSpec::Audio { .. })
    }

    fn first(&self) -> &SegmentDone {
        // `new` refuses an empty rendition.
        &self.segments[0]
    }

    /// The decoder configuration.
    pub fn config(&self) -> &TrackConfig {
        &self.first().config
    }

    /// RFC 6381 codec string.
    pub fn codec_string(&self) -> &str {
        &self.first().codec_string
    }

    /// Timescale of the track.
    pub fn timescale(&self) -> u32 {
        self.first().timescale
    }

    /// Width and height (0 for audio).
    pub fn size(&self) -> (u32, u32) {
        (self.first().width, self.first().height)
    }

    /// Seconds of a segment.
    pub fn seconds(&self, s: &SegmentDone) -> f64 {
        s.duration as f64 / f64::from(self.timescale().max(1))
    }

    /// Total duration in seconds.
    pub fn duration_secs(&self) -> f64 {
        self.segments.iter().map(|s| self.seconds(s)).sum()
    }

    /// Total bytes of the fragments.
    pub fn bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }

    /// Average bitrate in bit/s over the whole rendition.
    pub fn average_bps(&self) -> u64 {
        (self.bytes() as f64 * 8.0 / self.duration_secs().max(1e-9)).round() as u64
    }

    /// Highest bitrate of any one segment, in bit/s (HLS BANDWIDTH).
    pub fn peak_bps(&self) -> u64 {
        self.segments
            .iter()
            .map(|s| (s.bytes as f64 * 8.0 / self.seconds(s).max(1e-9)).round() as u64)
            .max()
            .unwrap_or(0)
    }

    /// Frames per second actually coded.
    pub fn frame_rate(&self) -> f64 {
        let frames: u64 = self.segments.iter().map(|s| u64::from(s.frames)).sum();
        (frames as f64 / self.duration_secs().max(1e-9) * 1000.0).round() / 1000.0
    }

    /// Frame-weighted mean PSNR (video only).
    pub fn psnr(&self) -> Option<f64> {
        let mut sum = 0.0;
        let mut frames = 0u64;
        for s in &self.segments {
            let p = s.psnr?;
            sum += p * f64::from(s.frames);
            frames += u64::from(s.frames);
        }
        (frames > 0).then(|| sum / frames as f64)
    }

    /// CPU seconds spent producing it.
    pub fn cpu_secs(&self) -> f64 {
        self.segments.iter().map(|s| s.cpu_secs).sum()
    }

    /// Longest segment in seconds.
    pub fn longest_segment_secs(&self) -> f64 {
        self.segments.iter().map(|s| self.seconds(s)).fold(0.0, f64::max)
    }
}
