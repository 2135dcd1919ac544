//! What a viewer gets, measured: a segment's coded samples decoded again
//! with libavcodec (FFmpeg's H.264 decoder, dav1d for AV1) and compared with
//! the frames the encoder was given. One meter for every encoder, so the
//! PSNR and SSIM in reports compare encoders fairly.

use std::collections::VecDeque;

use ffmpeg_next as ffmpeg;

use super::init;
use super::params::CodecParams;
use crate::encode::{DecoderConfig, EncodedSample};
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;
use crate::quality::{measure, FrameQuality, Plane, QualitySum};

fn meter_error(reason: impl std::fmt::Display) -> MediaError {
    MediaError::Encode { codec: "meter", reason: format!("measuring the coded frames: {reason}") }
}

/// Pairs each decoded picture with the frame it was coded from.
#[derive(Default)]
pub struct QualityMeter {
    decoder: Option<ffmpeg::decoder::Video>,
    /// Frames sent to the encoder whose decoded picture has not come back.
    waiting: VecDeque<YuvFrame>,
    sum: QualitySum,
    decoded: usize,
}

fn open_decoder(config: &DecoderConfig) -> Result<ffmpeg::decoder::Video> {
    init();
    let missing = || meter_error("this FFmpeg has no decoder for the output codec");
    let (codec, mut context) = match config {
        // The avcC record as extradata, as a source segment's H.264 is decoded.
        DecoderConfig::Avc(avc) => {
            let parameters = CodecParams::h264(avc.to_record()?, 0, 0).to_parameters()?;
            let codec = ffmpeg::decoder::find(ffmpeg::codec::Id::H264).ok_or_else(missing)?;
            (codec, ffmpeg::codec::Context::from_parameters(parameters).map_err(meter_error)?)
        }
        // dav1d first (fast), then whatever AV1 decoder this FFmpeg has; the
        // sequence header travels in the first sample.
        DecoderConfig::Av1(_) => {
            let codec = ffmpeg::decoder::find_by_name("libdav1d")
                .or_else(|| ffmpeg::decoder::find_by_name("libaom-av1"))
                .or_else(|| ffmpeg::decoder::find(ffmpeg::codec::Id::AV1))
                .ok_or_else(missing)?;
            (codec, ffmpeg::codec::Context::new_with_codec(codec))
        }
        DecoderConfig::Aac(_) => return Err(meter_error("audio has no picture quality")),
    };
    // SAFETY: a plain field of an unopened context.
    unsafe { (*context.as_mut_ptr()).thread_count = 1 };
    context.decoder().open_as(codec).and_then(|d| d.video()).map_err(meter_error)
}

impl QualityMeter {
    /// A meter with nothing sent yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frame the encoder was given (presentation order), kept until its coded picture comes back.
    pub fn sent(&mut self, frame: YuvFrame) {
        self.waiting.push_back(frame);
    }

    /// A coded sample (decode order) and the stream's configuration.
    pub fn coded(&mut self, sample: &EncodedSample, config: &DecoderConfig) -> Result<()> {
        let first = self.decoder.is_none();
        if first {
            self.decoder = Some(open_decoder(config)?);
        }
        let packet = match config {
            DecoderConfig::Av1(av1) if first => {
                let mut data = av1.sequence_header.clone();
                data.extend_from_slice(&sample.data);
                ffmpeg::Packet::copy(&data)
            }
            _ => ffmpeg::Packet::copy(&sample.data),
        };
        if let Some(decoder) = self.decoder.as_mut() {
            decoder.send_packet(&packet).map_err(meter_error)?;
        }
        self.take_pictures()
    }

    fn take_pictures(&mut self) -> Result<()> {
        let Some(decoder) = self.decoder.as_mut() else { return Ok(()) };
        let mut picture = ffmpeg::frame::Video::empty();
        while decoder.receive_frame(&mut picture).is_ok() {
            if picture.format() != ffmpeg::format::Pixel::YUV420P {
                return Err(meter_error(format!("decoded {:?}, expected yuv420p", picture.format())));
            }
            let original = self.waiting.pop_front().ok_or_else(|| meter_error("more pictures than frames sent"))?;
            let (w, h) = (picture.width() as usize, picture.height() as usize);
            let plane = |i: usize, width: usize, height: usize| Plane {
                data: picture.data(i),
                stride: picture.stride(i),
                width,
                height,
            };
            let coded = [plane(0, w, h), plane(1, w / 2, h / 2), plane(2, w / 2, h / 2)];
            self.sum.add(measure(&original, coded)?);
            self.decoded += 1;
        }
        Ok(())
    }

    /// Drains the decoder; the mean quality of every frame sent.
    pub fn finish(mut self) -> Result<FrameQuality> {
        if let Some(decoder) = self.decoder.as_mut() {
            decoder.send_eof().map_err(meter_error)?;
        }
        self.take_pictures()?;
        if !self.waiting.is_empty() {
            return Err(meter_error(format!(
                "{} of {} coded frames did not decode",
                self.waiting.len(),
                self.waiting.len() + self.decoded
            )));
        }
        self.sum.mean().ok_or_else(|| meter_error("no coded picture was measured"))
    }
}
