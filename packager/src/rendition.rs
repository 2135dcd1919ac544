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
    pub fn new(spec: RenditionSpec, segments: Vec<SegmentDone>) -> Result<Self, PackagerError> {
        Self::from(spec, segments, 0)
    }

    /// The same for a live window: segments numbered on from `first_seq`.
    pub fn from(spec: RenditionSpec, mut segments: Vec<SegmentDone>, first_seq: u32) -> Result<Self, PackagerError> {
        let name = spec.name();
        segments.sort_by_key(|s| s.seq);
        let first = segments.first().ok_or_else(|| PackagerError::Incomplete(format!("{name} has no segment")))?;
        for (i, s) in segments.iter().enumerate() {
            let expected = u64::from(first_seq) + i as u64;
            if u64::from(s.seq) != expected {
                return Err(PackagerError::Incomplete(format!("{name} lacks segment {expected}")));
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

    /// Peak bitrate in bit/s as RFC 8216 (4.3.4.2) defines it for BANDWIDTH:
    /// the highest over any run of contiguous segments lasting 0.5 to 1.5
    /// times the target duration, so a short final segment does not count
    /// alone. The average when no run qualifies.
    pub fn peak_bps(&self) -> u64 {
        let target = self.longest_segment_secs().ceil().max(1.0);
        let mut peak = 0.0f64;
        for i in 0..self.segments.len() {
            let (mut secs, mut bytes) = (0.0, 0u64);
            for s in &self.segments[i..] {
                secs += self.seconds(s);
                bytes += s.bytes;
                if secs > 1.5 * target {
                    break;
                }
                if secs >= 0.5 * target {
                    peak = peak.max(bytes as f64 * 8.0 / secs);
                }
            }
        }
        if peak > 0.0 {
            peak.round() as u64
        } else {
            self.average_bps()
        }
    }

    /// Frame rate as a reduced fraction (frames x timescale / ticks), e.g.
    /// (30, 1) or (30000, 1001): DASH's `@frameRate` takes no decimals.
    pub fn frame_rate_fraction(&self) -> (u64, u64) {
        let frames: u64 = self.segments.iter().map(|s| u64::from(s.frames)).sum();
        let ticks: u64 = self.segments.iter().map(|s| s.duration).sum();
        let (num, den) = (frames * u64::from(self.timescale()), ticks.max(1));
        let gcd = {
            let (mut a, mut b) = (num, den);
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a.max(1)
        };
        (num / gcd, den / gcd)
    }

    /// Frames per second actually coded, to three decimals.
    pub fn frame_rate(&self) -> f64 {
        let (num, den) = self.frame_rate_fraction();
        (num as f64 / den as f64 * 1000.0).round() / 1000.0
    }

    /// Frame-weighted mean PSNR over all planes (video only).
    pub fn psnr(&self) -> Option<f64> {
        self.frame_weighted(|s| s.psnr)
    }

    /// Frame-weighted mean PSNR of luma (video only).
    pub fn psnr_y(&self) -> Option<f64> {
        self.frame_weighted(|s| s.psnr_y)
    }

    /// Frame-weighted mean SSIM of luma (video only).
    pub fn ssim(&self) -> Option<f64> {
        self.frame_weighted(|s| s.ssim)
    }

    fn frame_weighted(&self, value: impl Fn(&SegmentDone) -> Option<f64>) -> Option<f64> {
        let mut sum = 0.0;
        let mut frames = 0u64;
        for s in &self.segments {
            sum += value(s)? * f64::from(s.frames);
            frames += u64::from(s.frames);
        }
        (frames > 0).then(|| sum / frames as f64)
    }

    /// The audio track it is (audio renditions).
    pub fn audio_track(&self) -> Option<&tessera_core::wire::AudioTrack> {
        match &self.spec {
            RenditionSpec::Audio { track, .. } => Some(track),
            _ => None,
        }
    }

    /// Audio channels as its configuration declares them (audio renditions).
    pub fn channels(&self) -> Option<u16> {
        match self.config() {
            TrackConfig::Aac { channels, .. } => Some(*channels),
            _ => None,
        }
    }

    /// True when its video carries the source's closed captions (CEA-608/708 in SEI).
    pub fn closed_captions(&self) -> bool {
        self.segments.iter().any(|s| s.closed_captions)
    }

    /// True for an H.264 rendition whose every segment reported its leading
    /// keyframe's byte range: it gets an I-frame playlist.
    pub fn has_iframes(&self) -> bool {
        self.codec_string().starts_with("avc1") && self.segments.iter().all(|s| s.key_frame_bytes.is_some())
    }

    /// True for an H.264 rendition whose every segment has its keyframe alone
    /// in a fragment of its own (`{seq}.key.m4s`): it gets a DASH trick-mode Representation.
    pub fn has_key_frame_fragments(&self) -> bool {
        self.codec_string().starts_with("avc1") && self.segments.iter().all(|s| s.key_frame_fragment_bytes.is_some())
    }

    /// Peak bitrate of the keyframe-only fragments: the largest over its segment's duration, bit/s.
    pub fn key_frame_fragment_peak_bps(&self) -> u64 {
        self.keyframe_peak_bps(|s| s.key_frame_fragment_bytes)
    }

    /// Average bitrate of the I-frame playlist (its byte ranges over the duration), bit/s.
    pub fn iframe_average_bps(&self) -> u64 {
        let bytes: u64 = self.segments.iter().filter_map(|s| s.key_frame_bytes).sum();
        (bytes as f64 * 8.0 / self.duration_secs().max(1e-9)).round() as u64
    }

    /// Peak bitrate of the I-frame playlist: its largest entry over its duration, bit/s.
    pub fn iframe_peak_bps(&self) -> u64 {
        self.keyframe_peak_bps(|s| s.key_frame_bytes)
    }

    /// The largest of a segment's keyframe `bytes` over the segment's
    /// duration (at least half the longest segment's, so a short last
    /// segment does not count alone), bit/s.
    fn keyframe_peak_bps(&self, bytes: impl Fn(&SegmentDone) -> Option<u64>) -> u64 {
        let target = self.longest_segment_secs().max(1e-9);
        let peak = self
            .segments
            .iter()
            .filter_map(|s| Some(bytes(s)? as f64 * 8.0 / self.seconds(s).max(target / 2.0)))
            .fold(0.0, f64::max);
        peak.round() as u64
    }

    /// A segment's average bitrate in bit/s.
    pub fn segment_bps(&self, segment: &SegmentDone) -> u64 {
        (segment.bytes as f64 * 8.0 / self.seconds(segment).max(1e-9)).round() as u64
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

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::Rung;
    use tessera_media::VideoCodec;

    fn rendition(segments: &[(u64, u64, u32)]) -> Rendition {
        let rung = Rung::new(VideoCodec::H264, 360, 700);
        let mut start = 0;
        let segments = segments
            .iter()
            .enumerate()
            .map(|(i, &(duration, bytes, frames))| {
                let s = SegmentDone {
                    start,
                    duration,
                    timescale: 30000,
                    bytes,
                    frames,
                    width: 640,
                    height: 360,
                    codec_string: "avc1.42C01E".into(),
                    config: TrackConfig::Avc { parameter_sets: Vec::new() },
                    psnr: Some(40.0),
                    ..SegmentDone::new("h264-360p", i as u32)
                };
                start += duration;
                s
            })
            .collect();
        Rendition::new(RenditionSpec::Video { rung }, segments).unwrap()
    }

    #[test]
    fn a_short_last_segment_does_not_set_the_peak_alone() {
        // Two 4 s segments at 700 kbit/s and a 0.1 s one (one key frame of 25 kB = 2 Mbit/s alone).
        let r = rendition(&[(120_120, 350_000, 120), (120_120, 350_000, 120), (3003, 25_000, 3)]);
        let peak = r.peak_bps();
        assert!(peak < 800_000, "{peak}");
        assert!(peak >= r.average_bps(), "{peak} vs {}", r.average_bps());
        // A heavier middle segment does set it.
        let r = rendition(&[(120_120, 350_000, 120), (120_120, 700_000, 120), (120_120, 350_000, 120)]);
        assert_eq!(r.peak_bps(), (700_000.0f64 * 8.0 / (120_120.0 / 30000.0)).round() as u64);
    }

    #[test]
    fn ntsc_frame_rates_are_fractions() {
        let r = rendition(&[(120_120, 1, 120), (60_060, 1, 60)]);
        assert_eq!(r.frame_rate_fraction(), (30000, 1001));
        let r = rendition(&[(120_000, 1, 120)]);
        assert_eq!(r.frame_rate_fraction(), (30, 1));
    }
}
