//! Rendition encoding: the settings a rung gives, the samples that come out,
//! the [`VideoEncoder`] trait every encoder implements (x264 and SVT-AV1
//! through libavcodec, openh264, rav1e), and [`SegmentEncoder`], which runs
//! one segment through a fresh encoder so the first frame is a keyframe and
//! the output is deterministic, measuring what it coded as it goes.

use crate::av::encoder::LibavEncoder;
use crate::av::quality_meter::QualityMeter;
use crate::av1::Av1Encoder;
use crate::cmaf::{media_segment, FragmentSample, TrackRun};
use crate::encoders::{EncoderKind, SpeedPreset};
use crate::error::{MediaError, Result};
use crate::frame::{is_even_size, YuvFrame};
use crate::h264::H264Encoder;
use crate::quality::FrameQuality;
pub(crate) use tessera_codec::{DecoderConfig, VideoCodec};

/// Everything an encoder needs for one rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// The encoder (and so the codec).
    pub encoder: EncoderKind,
    /// Output width (even).
    pub width: u32,
    /// Output height (even).
    pub height: u32,
    /// Target bitrate in kbit/s; in capped quality mode, the most any segment may average.
    pub bitrate_kbps: u32,
    /// Capped quality mode: the encoder's CRF (x264 0-51, SVT-AV1 1-63),
    /// held under `bitrate_kbps`; `None`: bitrate mode.
    pub quality: Option<u8>,
    /// The segment's duration in seconds (capped quality mode sizes its buffer by it).
    pub segment_secs: f64,
    /// Nominal frame rate (frames per second) for rate control and levels.
    pub frame_rate: f64,
    /// Speed preset.
    pub speed: SpeedPreset,
    /// Encoder threads; 1 keeps the output byte-identical run to run.
    pub threads: usize,
    /// Low delay: every frame comes out coded before the next goes in (no
    /// B-frames, no lookahead), so a low-latency channel's parts leave the
    /// encoder as their frames arrive.
    pub low_delay: bool,
}

impl EncoderSettings {
    /// The codec the encoder writes.
    pub fn codec(&self) -> VideoCodec {
        self.encoder.codec()
    }

    /// Checks the settings before an encoder is built.
    pub fn validate(&self) -> Result<()> {
        let range = self.encoder.quality_range();
        let error = if let Some(q) = self.quality.filter(|q| range.is_none_or(|(lo, hi)| !(lo..=hi).contains(q))) {
            SettingsError::Quality { encoder: self.encoder, quality: q }
        } else if self.width < 16 || self.height < 16 || !is_even_size(self.width, self.height) {
            SettingsError::Size { width: self.width, height: self.height }
        } else if self.bitrate_kbps == 0 {
            SettingsError::Bitrate
        } else if !(self.frame_rate.is_finite() && self.frame_rate > 0.0 && self.frame_rate <= 240.0) {
            SettingsError::FrameRate(self.frame_rate)
        } else {
            return Ok(());
        };
        Err(MediaError::Settings { codec: self.codec().as_str(), error })
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
    /// A quality target the encoder has no scale for, or outside its scale.
    #[error("{}", quality_reason(*.encoder, *.quality))]
    Quality {
        /// The encoder.
        encoder: EncoderKind,
        /// The CRF asked for.
        quality: u8,
    },
}

fn quality_reason(encoder: EncoderKind, quality: u8) -> String {
    match encoder.quality_range() {
        Some((lo, hi)) => format!("{encoder} takes a quality (CRF) of {lo}..={hi}, not {quality}"),
        None => format!("{encoder} has no capped quality mode (use bitrate mode, or x264 / svt-av1)"),
    }
}

/// What every video encoder does for one segment: frames in, in
/// presentation order; coded samples out, in decode order; a flush at the
/// end. [`SegmentEncoder`] drives any of them.
pub trait VideoEncoder: Send {
    /// Queues the next frame.
    fn send_frame(&mut self, frame: &YuvFrame) -> Result<()>;
    /// The next coded sample, or `None` until more input (or the flush) comes.
    fn receive(&mut self) -> Result<Option<EncodedSample>>;
    /// Ends the input: [`Self::receive`] then drains the rest.
    fn flush(&mut self) -> Result<()>;
    /// The decoder configuration, known once the first keyframe is out.
    fn codec_config(&self) -> Option<DecoderConfig>;
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

/// A segment encoded for one rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedSegment {
    /// Samples in decode order.
    pub samples: Vec<EncodedSample>,
    /// Decoder configuration for the init segment.
    pub config: DecoderConfig,
    /// Mean per-frame quality of the coded frames, decoded again, against
    /// the frames given to the encoder (identical frames count 100 dB).
    pub quality: FrameQuality,
    /// The pictures' closed captions are in the bitstream (x264 writes the
    /// frames' A/53 `cc_data` as SEI; the other encoders drop them).
    pub closed_captions: bool,
    /// The pictures' captions as they came in: (presentation time, `cc_data`), for frames that had any.
    pub caption_frames: Vec<(i64, Vec<u8>)>,
}

impl EncodedSegment {
    /// The segment as one CMAF fragment of a single-track rendition whose
    /// first presented frame is at `start`. Decode times walk the frames'
    /// presentation times in order, so the fragment's decode time starts at
    /// `start` too and a reordered sample (a B-frame stream) gets the signed
    /// composition offset that puts it back (trun version 1).
    pub fn to_fragment(&self, sequence_number: u32, track_id: u32, start: u64) -> Result<Vec<u8>> {
        let mut shown: Vec<(i64, u32)> = self.samples.iter().map(|s| (s.pts, s.duration)).collect();
        shown.sort_unstable();
        let samples = self
            .samples
            .iter()
            .zip(&shown)
            .map(|(s, &(decode_time, duration))| {
                let offset = i32::try_from(s.pts - decode_time).map_err(|_| MediaError::Mux {
                    kind: "trun",
                    reason: format!("composition offset {} does not fit", s.pts - decode_time),
                })?;
                Ok(FragmentSample { duration, composition_offset: offset, is_sync: s.is_sync, data: &s.data })
            })
            .collect::<Result<Vec<_>>>()?;
        media_segment(sequence_number, &[TrackRun { track_id, base_decode_time: start, samples }])
    }
}

/// One segment's encoder, fed frames one at a time in presentation order:
/// a fresh [`VideoEncoder`], so the first frame is a keyframe and no frame
/// references another segment. It holds only what the encoder itself does.
pub struct SegmentEncoder {
    codec: VideoCodec,
    encoder: Box<dyn VideoEncoder>,
    samples: Vec<EncodedSample>,
    meter: QualityMeter,
    sent: usize,
    /// This encoder writes A/53 captions (x264).
    writes_captions: bool,
    /// The frames' captions so far.
    caption_frames: Vec<(i64, Vec<u8>)>,
}

impl SegmentEncoder {
    /// A fresh encoder for one segment of a rendition.
    pub fn new(settings: &EncoderSettings) -> Result<Self> {
        settings.validate()?;
        let encoder: Box<dyn VideoEncoder> = match settings.encoder {
            EncoderKind::Openh264 => Box::new(H264Encoder::new(settings)?),
            EncoderKind::Rav1e => Box::new(Av1Encoder::new(settings)?),
            EncoderKind::X264 | EncoderKind::SvtAv1 => Box::new(LibavEncoder::new(settings)?),
        };
        Ok(Self {
            codec: settings.codec(),
            encoder,
            samples: Vec::new(),
            meter: QualityMeter::new(),
            sent: 0,
            writes_captions: settings.encoder == EncoderKind::X264,
            caption_frames: Vec::new(),
        })
    }

    /// Encodes the next frame; the meter keeps it until its coded picture comes back.
    pub fn send(&mut self, frame: YuvFrame) -> Result<()> {
        self.sent += 1;
        if !frame.captions.is_empty() {
            self.caption_frames.push((frame.pts, frame.captions.clone()));
        }
        self.encoder.send_frame(&frame)?;
        self.meter.sent(frame);
        self.take_samples()
    }

    /// The samples coded so far, in decode order.
    pub fn coded(&self) -> &[EncodedSample] {
        &self.samples
    }

    /// Moves the encoder's finished samples out, measuring each.
    fn take_samples(&mut self) -> Result<()> {
        while let Some(sample) = self.encoder.receive()? {
            if let Some(config) = self.encoder.codec_config() {
                self.meter.coded(&sample, &config)?;
            }
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
        self.take_samples()?;
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
        let quality = self.meter.finish()?;
        let closed_captions = !self.caption_frames.is_empty() && self.writes_captions;
        let caption_frames = self.caption_frames;
        Ok(EncodedSegment { samples: self.samples, config, quality, closed_captions, caption_frames })
    }
}

/// Encodes one segment's frames (presentation order) with a fresh encoder.
pub fn encode_segment(settings: &EncoderSettings, frames: &[YuvFrame]) -> Result<EncodedSegment> {
    let mut encoder = SegmentEncoder::new(settings)?;
    for frame in frames {
        encoder.send(frame.clone())?;
    }
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(width: u32, height: u32, bitrate_kbps: u32, frame_rate: f64) -> EncoderSettings {
        EncoderSettings {
            encoder: EncoderKind::Rav1e,
            width,
            height,
            bitrate_kbps,
            quality: None,
            segment_secs: 2.0,
            frame_rate,
            speed: SpeedPreset::Veryfast,
            threads: 1,
            low_delay: false,
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
        let rav1e_crf = EncoderSettings { quality: Some(30), ..settings(64, 64, 100, 30.0) };
        assert_eq!(
            refused(rav1e_crf).to_string(),
            "rav1e has no capped quality mode (use bitrate mode, or x264 / svt-av1)"
        );
        let svt = EncoderSettings { encoder: EncoderKind::SvtAv1, quality: Some(64), ..settings(64, 64, 100, 30.0) };
        assert_eq!(refused(svt).to_string(), "svt-av1 takes a quality (CRF) of 1..=63, not 64");
    }
}
