//! Rendition encoding: the settings a rung gives, the samples that come out,
//! the [`VideoEncoder`] trait openh264 and rav1e implement, and
//! [`SegmentEncoder`], which runs one segment through a fresh encoder so the
//! first frame is a keyframe and the output is deterministic.

use std::fmt;
use std::str::FromStr;

use crate::av1::{Av1Config, Av1Encoder};
use crate::cmaf::{media_segment, FragmentSample, TrackRun};
use crate::error::{MediaError, Result};
use crate::frame::{is_even_size, YuvFrame};
use crate::h264::{AvcConfig, H264Encoder};

/// Output video codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VideoCodec {
    /// H.264 Constrained Baseline (openh264).
    H264,
    /// AV1 Main profile, 8-bit 4:2:0 (rav1e).
    Av1,
}

impl VideoCodec {
    /// Lower-case name used in rendition names and task subjects.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Av1 => "av1",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VideoCodec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "avc1" => Ok(VideoCodec::H264),
            "av1" | "av01" => Ok(VideoCodec::Av1),
            other => Err(format!("unknown video codec '{other}': expected h264 or av1")),
        }
    }
}

/// Speed/quality trade-off, mapped onto each encoder's own knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SpeedPreset {
    /// openh264 low complexity, rav1e speed 10.
    #[default]
    Veryfast,
    /// openh264 medium complexity, rav1e speed 9.
    Fast,
    /// openh264 high complexity, rav1e speed 7.
    Medium,
    /// openh264 high complexity, rav1e speed 5.
    Slow,
}

impl SpeedPreset {
    /// rav1e speed level (0 slowest .. 10 fastest).
    pub fn rav1e_speed(self) -> u8 {
        match self {
            SpeedPreset::Veryfast => 10,
            SpeedPreset::Fast => 9,
            SpeedPreset::Medium => 7,
            SpeedPreset::Slow => 5,
        }
    }

    /// Name as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            SpeedPreset::Veryfast => "veryfast",
            SpeedPreset::Fast => "fast",
            SpeedPreset::Medium => "medium",
            SpeedPreset::Slow => "slow",
        }
    }
}

impl FromStr for SpeedPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "veryfast" => Ok(SpeedPreset::Veryfast),
            "fast" => Ok(SpeedPreset::Fast),
            "medium" => Ok(SpeedPreset::Medium),
            "slow" => Ok(SpeedPreset::Slow),
            other => Err(format!("unknown speed preset '{other}': expected veryfast, fast, medium or slow")),
        }
    }
}

/// Everything an encoder needs for one rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// Output codec.
    pub codec: VideoCodec,
    /// Output width (even).
    pub width: u32,
    /// Output height (even).
    pub height: u32,
    /// Target bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Nominal frame rate (frames per second) for rate control and levels.
    pub frame_rate: f64,
    /// Speed preset.
    pub speed: SpeedPreset,
    /// Encoder threads; 1 keeps the output byte-identical run to run.
    pub threads: usize,
}

impl EncoderSettings {
    /// Checks the settings before an encoder is built.
    pub fn validate(&self) -> Result<()> {
        let error = if self.width < 16 || self.height < 16 || !is_even_size(self.width, self.height) {
            SettingsError::Size { width: self.width, height: self.height }
        } else if self.bitrate_kbps == 0 {
            SettingsError::Bitrate
        } else if !(self.frame_rate.is_finite() && self.frame_rate > 0.0 && self.frame_rate <= 240.0) {
            SettingsError::FrameRate(self.frame_rate)
        } else {
            return Ok(());
        };
        Err(MediaError::Settings { codec: self.codec.as_str(), error })
    }
}

/// Why encoder settings were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// The picture size is odd, or smaller than 16x16.
    #[error("{width}x{height} is not an even size of at least 16x16")]
    Size {
        /// Width asked for.
        width: u32,
        /// Height asked for.
        height: u32,
    },
    /// A bitrate of 0.
    #[error("bitrate must be above 0 kbit/s")]
    Bitrate,
    /// A frame rate outside (0, 240].
    #[error("frame rate {0} is not in (0, 240]")]
    FrameRate(f64),
}

/// What every video encoder does for one segment: frames in, in
/// presentation order; coded samples out; a flush at the end. openh264 and
/// rav1e implement it; [`SegmentEncoder`] drives either.
pub trait VideoEncoder: Send {
    /// Queues the next frame.
    fn send_frame(&mut self, frame: &YuvFrame) -> Result<()>;
    /// The next coded sample, or `None` until more input (or the flush) comes.
    fn receive(&mut self) -> Result<Option<EncodedSample>>;
    /// Ends the input: [`Self::receive`] then drains the rest.
    fn flush(&mut self) -> Result<()>;
    /// The decoder configuration, known once the first keyframe is out.
    fn codec_config(&self) -> Option<CodecConfig>;
    /// Mean PSNR of the coded pictures so far against the frames sent.
    fn mean_psnr(&self) -> Option<f64>;
}

/// One coded access unit ready for a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedSample {
    /// Presentation timestamp (same timescale as the input frames).
    pub pts: i64,
    /// Duration in the input timescale.
    pub duration: u32,
    /// True for a keyframe (IDR / AV1 key frame).
    pub is_sync: bool,
    /// The sample as stored in MP4 (length-prefixed NALs, or AV1 OBUs).
    pub data: Vec<u8>,
}

/// Out-of-band decoder configuration of an encoded rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecConfig {
    /// H.264: SPS/PPS for avcC.
    Avc(AvcConfig),
    /// AV1: av1C fields and the sequence header OBU.
    Av1(Av1Config),
}

impl CodecConfig {
    /// RFC 6381 codec string.
    pub fn codec_string(&self) -> Result<String> {
        match self {
            CodecConfig::Avc(c) => c.codec_string(),
            CodecConfig::Av1(c) => Ok(c.codec_string()),
        }
    }
}

/// A segment encoded for one rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedSegment {
    /// Samples in decode order (which is presentation order for our encoders).
    pub samples: Vec<EncodedSample>,
    /// Decoder configuration for the init segment.
    pub config: CodecConfig,
    /// Mean per-frame PSNR (dB, identical frames counted as 100) of the coded
    /// frames against the frames given to the encoder.
    pub psnr: f64,
}

impl EncodedSegment {
    /// The segment as one CMAF fragment of a single-track rendition, starting
    /// at `base_decode_time` (our encoders never reorder, so offsets are 0).
    pub fn to_fragment(&self, sequence_number: u32, track_id: u32, base_decode_time: u64) -> Result<Vec<u8>> {
        let samples = self
            .samples
            .iter()
            .map(|s| FragmentSample { duration: s.duration, composition_offset: 0, is_sync: s.is_sync, data: &s.data })
            .collect();
        media_segment(sequence_number, &[TrackRun { track_id, base_decode_time, samples }])
    }
}

/// One segment's encoder, fed frames one at a time in presentation order:
/// a fresh [`VideoEncoder`], so the first frame is a keyframe and no frame
/// references another segment. It holds only what the encoder itself does.
pub struct SegmentEncoder {
    codec: VideoCodec,
    encoder: Box<dyn VideoEncoder>,
    samples: Vec<EncodedSample>,
    sent: usize,
}

impl SegmentEncoder {
    /// A fresh encoder for one segment of a rendition.
    pub fn new(settings: &EncoderSettings) -> Result<Self> {
        settings.validate()?;
        let encoder: Box<dyn VideoEncoder> = match settings.codec {
            VideoCodec::H264 => Box::new(H264Encoder::new(settings)?),
            VideoCodec::Av1 => Box::new(Av1Encoder::new(settings)?),
        };
        Ok(Self { codec: settings.codec, encoder, samples: Vec::new(), sent: 0 })
    }

    /// Encodes the next frame.
    pub fn send(&mut self, frame: &YuvFrame) -> Result<()> {
        self.sent += 1;
        self.encoder.send_frame(frame)?;
        while let Some(sample) = self.encoder.receive()? {
            self.samples.push(sample);
        }
        Ok(())
    }

    /// Drains the encoder and returns the segment.
    pub fn finish(mut self) -> Result<EncodedSegment> {
        let codec = self.codec.as_str();
        if self.sent == 0 {
            return Err(MediaError::Encode { codec, reason: "no frames to encode".into() });
        }
        self.encoder.flush()?;
        while let Some(sample) = self.encoder.receive()? {
            self.samples.push(sample);
        }
        if self.samples.len() != self.sent {
            return Err(MediaError::Encode {
                codec,
                reason: format!("{} frames in, {} packets out", self.sent, self.samples.len()),
            });
        }
        let config = self.encoder.codec_config().ok_or_else(|| MediaError::Encode {
            codec,
            reason: "no decoder configuration in the first keyframe".into(),
        })?;
        let psnr = self
            .encoder
            .mean_psnr()
            .ok_or_else(|| MediaError::Encode { codec, reason: "no coded picture was measured".into() })?;
        Ok(EncodedSegment { samples: self.samples, config, psnr })
    }
}

/// Encodes one segment's frames (presentation order) with a fresh encoder.
pub fn encode_segment(settings: &EncoderSettings, frames: &[YuvFrame]) -> Result<EncodedSegment> {
    let mut encoder = SegmentEncoder::new(settings)?;
    for frame in frames {
        encoder.send(frame)?;
    }
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(width: u32, height: u32, bitrate_kbps: u32, frame_rate: f64) -> EncoderSettings {
        EncoderSettings {
            codec: VideoCodec::Av1,
            width,
            height,
            bitrate_kbps,
            frame_rate,
            speed: SpeedPreset::Veryfast,
            threads: 1,
        }
    }

    #[test]
    fn settings_are_refused_with_a_typed_reason() {
        let refused = |s: EncoderSettings| match SegmentEncoder::new(&s) {
            Err(MediaError::Settings { codec: "av1", error }) => error,
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted {s:?}"),
        };
        assert_eq!(refused(settings(15, 16, 100, 30.0)), SettingsError::Size { width: 15, height: 16 });
        assert_eq!(refused(settings(64, 64, 0, 30.0)), SettingsError::Bitrate);
        let error = refused(settings(64, 64, 100, 0.0));
        assert_eq!(error, SettingsError::FrameRate(0.0));
        assert_eq!(
            MediaError::Settings { codec: "av1", error }.to_string(),
            "av1 encoder settings: frame rate 0 is not in (0, 240]"
        );
    }
}
