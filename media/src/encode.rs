//! Rendition encoding: the settings a rung gives, the samples that come out,
//! and [`SegmentEncoder`], the one send/finish interface over openh264 and
//! rav1e: a fresh encoder per segment, so the first frame is a keyframe and
//! the output is deterministic.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;

use crate::av1::{Av1Config, Av1Encoder};
use crate::cmaf::{media_segment, FragmentSample, TrackRun};
use crate::error::{MediaError, Result};
use crate::frame::{is_even_size, YuvFrame};
use crate::h264::{AvcConfig, H264Decoder, H264Encoder};
use crate::quality::psnr;

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
        let codec = self.codec.as_str();
        if self.width < 16 || self.height < 16 || !is_even_size(self.width, self.height) {
            return Err(MediaError::Encode {
                codec,
                reason: format!("{}x{} is not an even size of at least 16x16", self.width, self.height),
            });
        }
        if self.bitrate_kbps == 0 {
            return Err(MediaError::Encode { codec, reason: "bitrate must be above 0".into() });
        }
        if !(self.frame_rate.is_finite() && self.frame_rate > 0.0 && self.frame_rate <= 240.0) {
            return Err(MediaError::Encode {
                codec,
                reason: format!("frame rate {} is not in (0, 240]", self.frame_rate),
            });
        }
        Ok(())
    }
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

/// One segment's encoder, fed frames one at a time in presentation order
/// (a fresh encoder: the first frame is a keyframe and no frame references
/// another segment). It holds only what the encoder itself looks ahead over,
/// plus, for H.264, the few frames openh264's decoder lags behind while it
/// measures the coded pictures' PSNR.
pub struct SegmentEncoder {
    inner: Inner,
    samples: Vec<EncodedSample>,
    sent: usize,
}

enum Inner {
    H264 {
        encoder: Box<H264Encoder>,
        /// Decodes what was coded, to measure it (openh264 exposes no reconstruction).
        decoder: Option<Box<H264Decoder>>,
        /// Frames sent whose decoded picture has not come back yet.
        waiting: VecDeque<YuvFrame>,
        psnr_sum: f64,
        measured: usize,
    },
    Av1(Box<Av1Encoder>),
}

impl SegmentEncoder {
    /// A fresh encoder for one segment of a rendition.
    pub fn new(settings: &EncoderSettings) -> Result<Self> {
        settings.validate()?;
        let inner = match settings.codec {
            VideoCodec::H264 => Inner::H264 {
                encoder: Box::new(H264Encoder::new(settings)?),
                decoder: None,
                waiting: VecDeque::new(),
                psnr_sum: 0.0,
                measured: 0,
            },
            VideoCodec::Av1 => Inner::Av1(Box::new(Av1Encoder::new(settings)?)),
        };
        Ok(Self { inner, samples: Vec::new(), sent: 0 })
    }

    /// Encodes the next frame.
    pub fn send(&mut self, frame: &YuvFrame) -> Result<()> {
        self.sent += 1;
        match &mut self.inner {
            Inner::H264 { encoder, decoder, waiting, psnr_sum, measured } => {
                let sample = encoder.encode(frame)?;
                if decoder.is_none() {
                    let config = encoder.config().ok_or_else(|| MediaError::Encode {
                        codec: "h264",
                        reason: "the encoder emitted no SPS/PPS".into(),
                    })?;
                    *decoder = Some(Box::new(H264Decoder::new(config)?));
                }
                waiting.push_back(frame.clone());
                if let Some(d) = decoder.as_mut() {
                    if let Some(decoded) = d.send_sample(&sample.data, sample.pts, sample.duration)? {
                        measure(waiting, &decoded, psnr_sum, measured)?;
                    }
                }
                self.samples.push(sample);
            }
            Inner::Av1(encoder) => {
                encoder.send_frame(frame)?;
                while let Some(sample) = encoder.receive()? {
                    self.samples.push(sample);
                }
            }
        }
        Ok(())
    }

    /// Drains the encoder and returns the segment.
    pub fn finish(mut self) -> Result<EncodedSegment> {
        if self.sent == 0 {
            return Err(MediaError::Encode { codec: self.codec(), reason: "no frames to encode".into() });
        }
        let (config, psnr) = match &mut self.inner {
            Inner::H264 { encoder, decoder, waiting, psnr_sum, measured } => {
                if let Some(d) = decoder.as_mut() {
                    for decoded in d.flush()? {
                        measure(waiting, &decoded, psnr_sum, measured)?;
                    }
                }
                if !waiting.is_empty() || *measured == 0 {
                    return Err(MediaError::Encode {
                        codec: "h264",
                        reason: format!("{} coded frames did not decode back", waiting.len()),
                    });
                }
                let config = encoder.config().cloned().ok_or_else(|| MediaError::Encode {
                    codec: "h264",
                    reason: "the encoder emitted no SPS/PPS".into(),
                })?;
                (CodecConfig::Avc(config), *psnr_sum / *measured as f64)
            }
            Inner::Av1(encoder) => {
                encoder.flush();
                while let Some(sample) = encoder.receive()? {
                    self.samples.push(sample);
                }
                let config = encoder.config().cloned().ok_or_else(|| MediaError::Encode {
                    codec: "av1",
                    reason: "no sequence header in the first keyframe".into(),
                })?;
                let psnr = encoder.mean_psnr().ok_or_else(|| MediaError::Encode {
                    codec: "av1",
                    reason: "rav1e returned no reconstructed frames".into(),
                })?;
                (CodecConfig::Av1(config), psnr)
            }
        };
        if self.samples.len() != self.sent {
            return Err(MediaError::Encode {
                codec: self.codec(),
                reason: format!("{} frames in, {} packets out", self.sent, self.samples.len()),
            });
        }
        Ok(EncodedSegment { samples: self.samples, config, psnr })
    }

    fn codec(&self) -> &'static str {
        match self.inner {
            Inner::H264 { .. } => "h264",
            Inner::Av1(_) => "av1",
        }
    }
}

/// Pairs a decoded picture with the oldest frame still waiting for it.
fn measure(waiting: &mut VecDeque<YuvFrame>, decoded: &YuvFrame, sum: &mut f64, n: &mut usize) -> Result<()> {
    let original = waiting.pop_front().ok_or_else(|| MediaError::Encode {
        codec: "h264",
        reason: "the decoder returned more pictures than were coded".into(),
    })?;
    *sum += psnr(&original, decoded)?.min(100.0);
    *n += 1;
    Ok(())
}

/// Encodes one segment's frames (presentation order) with a fresh encoder.
pub fn encode_segment(settings: &EncoderSettings, frames: &[YuvFrame]) -> Result<EncodedSegment> {
    let mut encoder = SegmentEncoder::new(settings)?;
    for frame in frames {
        encoder.send(frame)?;
    }
    encoder.finish()
}
