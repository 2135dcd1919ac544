//! AV1 encoding with rav1e, one fresh context per segment: the first frame
//! is a key frame and nothing refers across segments. rav1e's packets come
//! one per shown frame, in presentation order, each tagged with its input
//! frame number, which maps it back to the frame's timestamp.

use rav1e::prelude::{
    ChromaSampling, ColorDescription, ColorPrimaries, Config, Context, EncoderConfig, EncoderStatus, FrameType,
    MatrixCoefficients, PixelRange, Rational, SpeedSettings, TransferCharacteristics,
};

use super::config::{level_for, Av1Config};
use super::obu::{split_obus, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER};
use crate::encode::{DecoderConfig, EncodedSample, EncoderSettings, VideoEncoder};
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;

fn encode_error(reason: impl ToString) -> MediaError {
    MediaError::Encode { codec: "av1", reason: reason.to_string() }
}

/// rav1e adapter: send frames, receive samples, flush at the end.
pub struct Av1Encoder {
    ctx: Context<u8>,
    width: u32,
    height: u32,
    level_idx: u8,
    /// (pts, duration) by input frame number.
    timing: Vec<(i64, u32)>,
    config: Option<Av1Config>,
}

impl Av1Encoder {
    /// Builds an encoder for one segment of a rendition.
    pub fn new(settings: &EncoderSettings) -> Result<Self> {
        settings.validate()?;
        let level_idx = level_for(settings.width, settings.height, settings.frame_rate);
        // rav1e wants a rational time base; 1/1000 s of a frame is precise enough for rate control.
        let fps_milli = (settings.frame_rate * 1000.0).round().max(1.0) as u64;
        let mut enc = EncoderConfig::with_speed_preset(settings.speed.rav1e_speed());
        enc.width = settings.width as usize;
        enc.height = settings.height as usize;
        enc.bit_depth = 8;
        enc.chroma_sampling = ChromaSampling::Cs420;
        enc.time_base = Rational::new(1000, fps_milli);
        enc.bitrate = i32::try_from(u64::from(settings.bitrate_kbps) * 1000).map_err(encode_error)?;
        // In bitrate mode rav1e treats `quantizer` (default 100) as the highest
        // qindex rate control may pick; that cap, not the rate control, made
        // output 2-3x the target at low bitrates. 255 lifts it.
        enc.quantizer = 255;
        enc.level_idx = Some(level_idx);
        // What every rendition is (the filter graph converts to it): BT.709, limited range.
        enc.color_description = Some(ColorDescription {
            color_primaries: ColorPrimaries::BT709,
            transfer_characteristics: TransferCharacteristics::BT709,
            matrix_coefficients: MatrixCoefficients::BT709,
        });
        enc.pixel_range = PixelRange::Limited;
        // One GOP per segment: the segment's first frame is the key frame.
        enc.min_key_frame_interval = 0;
        enc.max_key_frame_interval = u64::from(u16::MAX);
        enc.speed_settings = SpeedSettings::from_preset(settings.speed.rav1e_speed());
        let cfg = Config::new().with_encoder_config(enc).with_threads(settings.threads.max(1));
        let ctx = cfg.new_context().map_err(encode_error)?;
        Ok(Self { ctx, width: settings.width, height: settings.height, level_idx, timing: Vec::new(), config: None })
    }

    /// Queues a frame (presentation order).
    fn queue(&mut self, frame: &YuvFrame) -> Result<()> {
        if frame.width != self.width || frame.height != self.height {
            return Err(MediaError::Geometry(format!(
                "frame is {}x{}, encoder expects {}x{}",
                frame.width, frame.height, self.width, self.height
            )));
        }
        let mut f = self.ctx.new_frame();
        let (cw, _) = frame.chroma_size();
        f.planes[0].copy_from_raw_u8(&frame.y, frame.width as usize, 1);
        f.planes[1].copy_from_raw_u8(&frame.u, cw as usize, 1);
        f.planes[2].copy_from_raw_u8(&frame.v, cw as usize, 1);
        self.ctx.send_frame(f).map_err(encode_error)?;
        self.timing.push((frame.pts, frame.duration));
        Ok(())
    }

    /// Returns the next finished sample, or `None` when more input (or the
    /// end of the stream) is needed.
    fn next_sample(&mut self) -> Result<Option<EncodedSample>> {
        loop {
            match self.ctx.receive_packet() {
                Ok(packet) => {
                    let index = usize::try_from(packet.input_frameno).map_err(encode_error)?;
                    let &(pts, duration) = self
                        .timing
                        .get(index)
                        .ok_or_else(|| encode_error(format!("packet for unknown frame {index}")))?;
                    let is_sync = packet.frame_type == FrameType::KEY;
                    let mut data = Vec::with_capacity(packet.data.len());
                    for obu in split_obus(&packet.data)? {
                        match obu.kind {
                            // ISO-BMFF AV1 samples carry no temporal delimiters.
                            OBU_TEMPORAL_DELIMITER => {}
                            OBU_SEQUENCE_HEADER => {
                                if self.config.is_none() {
                                    self.config = Some(Av1Config {
                                        profile: 0,
                                        level_idx: self.level_idx,
                                        high_tier: false,
                                        sequence_header: obu.bytes.to_vec(),
                                    });
                                }
                                data.extend_from_slice(obu.bytes);
                            }
                            _ => data.extend_from_slice(obu.bytes),
                        }
                    }
                    return Ok(Some(EncodedSample { pts, duration, is_sync, data }));
                }
                Err(EncoderStatus::Encoded) => continue,
                Err(EncoderStatus::NeedMoreData | EncoderStatus::LimitReached) => return Ok(None),
                Err(e) => return Err(encode_error(e)),
            }
        }
    }

    /// The av1C configuration, known once the first key frame is out.
    pub fn config(&self) -> Option<&Av1Config> {
        self.config.as_ref()
    }
}

impl VideoEncoder for Av1Encoder {
    fn send_frame(&mut self, frame: &YuvFrame) -> Result<()> {
        self.queue(frame)
    }

    fn receive(&mut self) -> Result<Option<EncodedSample>> {
        self.next_sample()
    }

    fn flush(&mut self) -> Result<()> {
        self.ctx.flush();
        Ok(())
    }

    fn codec_config(&self) -> Option<DecoderConfig> {
        self.config.clone().map(DecoderConfig::Av1)
    }
}
