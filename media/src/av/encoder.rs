//! x264 and SVT-AV1 hosted in libavcodec (`libx264`, `libsvtav1`): one fresh
//! encoder per segment, frames in presentation order, packets out in decode
//! order (x264 uses B-frames, so a sample's presentation time can differ
//! from its decode time; [`crate::encode::EncodedSegment::to_fragment`]
//! writes the composition offsets).
//!
//! Determinism: each runs on one thread (x264 `threads=1`, SVT-AV1 one
//! logical processor) with its own frame-count clock, so a task gives the
//! same bytes on any worker whatever its slot count; tasks run in parallel
//! instead (see docs/architecture.md).

use std::collections::VecDeque;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use super::init;
use crate::av1::{Av1Config, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER};
use crate::encode::{DecoderConfig, EncodedSample, EncoderSettings, VideoEncoder};
use crate::encoders::EncoderKind;
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;
use crate::h264::nal::{nal_type, split_annexb, write_length_prefixed, NAL_AUD, NAL_PPS, NAL_SPS};
use crate::h264::AvcConfig;

/// Whether the loaded libavcodec has an encoder of this name.
pub fn has_encoder(name: &str) -> bool {
    init();
    ffmpeg::encoder::find_by_name(name).is_some()
}

/// Share of a VBV buffer x264 and SVT-AV1 start full (x264's `vbv-init` default).
const VBV_INIT: f64 = 0.9;

/// SVT-AV1's fastest preset (1.4), for [`LibavEncoder::rate_probe`]: about 40 % of preset 10's time.
pub const RATE_PROBE_PRESET: u8 = 13;

/// Seconds of the maximum rate a capped-quality rung's buffer holds.
pub const CAPPED_BUFFER_SECS: f64 = 1.0;

/// The rate an encoder may fill its buffer at in capped quality mode so that
/// no segment of `segment_secs` exceeds `max_kbps` on average: with a buffer
/// of [`CAPPED_BUFFER_SECS`] at that rate, starting [`VBV_INIT`] full, a
/// segment holds at most `rate * (segment_secs + VBV_INIT * CAPPED_BUFFER_SECS)` bits.
pub fn capped_rate_kbps(max_kbps: u32, segment_secs: f64) -> u32 {
    let t = segment_secs.max(0.1);
    ((f64::from(max_kbps) * t / (t + VBV_INIT * CAPPED_BUFFER_SECS)).floor() as u32).max(1)
}

/// A copy of a frame as libavcodec and libswscale take it.
pub(crate) fn to_av_frame(frame: &YuvFrame) -> ffmpeg::frame::Video {
    let mut picture = ffmpeg::frame::Video::new(ffmpeg::format::Pixel::YUV420P, frame.width, frame.height);
    let half = frame.width as usize / 2;
    let planes = [(&frame.y, frame.width as usize), (&frame.u, half), (&frame.v, half)];
    for (i, (plane, width)) in planes.into_iter().enumerate() {
        let stride = picture.stride(i);
        let out = picture.data_mut(i);
        for (row, src) in plane.chunks_exact(width).enumerate() {
            out[row * stride..row * stride + width].copy_from_slice(src);
        }
    }
    picture
}

/// A libavcodec-hosted encoder for one segment.
pub struct LibavEncoder {
    kind: EncoderKind,
    encoder: ffmpeg::encoder::Video,
    width: u32,
    height: u32,
    /// (pts, duration) by input frame number (the encoder's clock).
    timing: Vec<(i64, u32)>,
    config: Option<DecoderConfig>,
    coded: VecDeque<EncodedSample>,
    packet: ffmpeg::Packet,
}

fn error(kind: EncoderKind) -> impl Fn(ffmpeg::Error) -> MediaError {
    move |e| MediaError::Encode { codec: kind.codec().as_str(), reason: format!("{}: {e}", kind.as_str()) }
}

impl LibavEncoder {
    /// Opens `settings.encoder` (x264 or SVT-AV1) for one segment.
    pub fn new(settings: &EncoderSettings) -> Result<Self> {
        Self::open(settings, None)
    }

    /// SVT-AV1 at its fastest preset with the rung's settings otherwise: a
    /// quick pass whose bitrate predicts the real pass's (see
    /// [`crate::pipeline`]: it misses short segments in proportion).
    pub fn rate_probe(settings: &EncoderSettings) -> Result<Self> {
        Self::open(settings, Some(RATE_PROBE_PRESET))
    }

    fn open(settings: &EncoderSettings, svt_preset: Option<u8>) -> Result<Self> {
        settings.validate()?;
        init();
        let kind = settings.encoder;
        let fail = |reason: String| MediaError::Encode { codec: kind.codec().as_str(), reason };
        let name = kind.libavcodec_name().ok_or_else(|| fail(format!("{kind} is not hosted in libavcodec")))?;
        let codec = ffmpeg::encoder::find_by_name(name)
            .ok_or_else(|| fail(format!("this build's FFmpeg has no {name}, so {kind} is unavailable")))?;
        let mut context = ffmpeg::codec::Context::new_with_codec(codec);
        // The encoder's clock counts frames; rate control sees the nominal rate.
        let fps_milli = (settings.frame_rate * 1000.0).round().max(1.0) as i32;
        let mut options = ffmpeg::Dictionary::new();
        let bitrate = i64::from(settings.bitrate_kbps) * 1000;
        // SAFETY: plain fields of an unopened codec context.
        unsafe {
            let c = &mut *context.as_mut_ptr();
            c.width = settings.width as i32;
            c.height = settings.height as i32;
            c.pix_fmt = ffi::AVPixelFormat::AV_PIX_FMT_YUV420P;
            c.time_base = ffi::AVRational { num: 1000, den: fps_milli };
            c.framerate = ffi::AVRational { num: fps_milli, den: 1000 };
            c.sample_aspect_ratio = ffi::AVRational { num: 1, den: 1 };
            c.thread_count = 1;
            c.flags |= ffi::AV_CODEC_FLAG_GLOBAL_HEADER as i32;
            // What every rendition is (the filter graph converts to it): BT.709, limited range.
            c.color_primaries = ffi::AVColorPrimaries::AVCOL_PRI_BT709;
            c.color_trc = ffi::AVColorTransferCharacteristic::AVCOL_TRC_BT709;
            c.colorspace = ffi::AVColorSpace::AVCOL_SPC_BT709;
            c.color_range = ffi::AVColorRange::AVCOL_RANGE_MPEG;
            // One GOP per segment: its first frame is the keyframe (scene cuts may add more).
            c.gop_size = i32::from(u16::MAX);
            match settings.quality {
                // Bitrate mode: x264 reads a maximum rate equal to the bitrate
                // as CBR (its ABR undershoots short segments by 10-20%).
                None => {
                    c.bit_rate = bitrate;
                    if kind == EncoderKind::X264 {
                        c.rc_max_rate = bitrate;
                        c.rc_buffer_size = bitrate as i32;
                    }
                }
                Some(_) => {
                    let rate = i64::from(capped_rate_kbps(settings.bitrate_kbps, settings.segment_secs)) * 1000;
                    c.rc_max_rate = rate;
                    c.rc_buffer_size = (rate as f64 * CAPPED_BUFFER_SECS) as i32;
                }
            }
        }
        match kind {
            EncoderKind::X264 => {
                options.set("preset", settings.speed.x264_preset());
                if settings.low_delay {
                    // No B-frames, no lookahead: a coded frame out per frame in.
                    options.set("tune", "zerolatency");
                }
                // No threads of its own (including lookahead threads): byte-identical on any worker.
                let mut params = String::from("threads=1:lookahead-threads=1:sliced-threads=0");
                if let Some(crf) = settings.quality {
                    options.set("crf", &crf.to_string());
                    params.push_str(&format!(":vbv-init={VBV_INIT}"));
                }
                options.set("x264-params", &params);
            }
            EncoderKind::SvtAv1 => {
                let preset = svt_preset.unwrap_or_else(|| settings.speed.svt_av1_preset());
                options.set("preset", &preset.to_string());
                // One logical processor: SVT-AV1's output then does not depend on the machine.
                let mut params = String::from("lp=1:irefresh-type=2");
                match settings.quality {
                    Some(crf) => {
                        options.set("crf", &crf.to_string());
                        let max = capped_rate_kbps(settings.bitrate_kbps, settings.segment_secs);
                        params.push_str(&format!(":mbr={max}"));
                    }
                    // Its one-pass VBR sees the whole segment (up to 120 frames)
                    // and holds each section to the bitrate: with the defaults it
                    // overshoots a 1-4 s segment by 10-70%.
                    None => params.push_str(":lookahead=120:overshoot-pct=0:undershoot-pct=0:max-section-pct=100"),
                }
                options.set("svtav1-params", &params);
            }
            EncoderKind::Openh264 | EncoderKind::Rav1e => {
                return Err(fail(format!("{kind} is not hosted in libavcodec")));
            }
        }
        let encoder = context.encoder().video().and_then(|e| e.open_as_with(codec, options)).map_err(error(kind))?;
        Ok(Self {
            kind,
            encoder,
            width: settings.width,
            height: settings.height,
            timing: Vec::new(),
            config: None,
            coded: VecDeque::new(),
            packet: ffmpeg::Packet::empty(),
        })
    }

    /// H.264's decoder configuration: the SPS and PPS of the global header.
    fn avc_config(&self) -> Result<DecoderConfig> {
        // SAFETY: an opened encoder's extradata holds extradata_size bytes when not null.
        let header = unsafe {
            let c = &*self.encoder.as_ptr();
            super::copy_extradata(c.extradata, c.extradata_size)
        };
        let ps = split_annexb(&header).into_iter().filter(|n| matches!(nal_type(n), NAL_SPS | NAL_PPS));
        Ok(DecoderConfig::Avc(AvcConfig::from_parameter_sets(ps)?))
    }

    /// Moves every packet the encoder has ready into `coded`.
    fn drain(&mut self) -> Result<()> {
        while self.encoder.receive_packet(&mut self.packet).is_ok() {
            if self.config.is_none() && self.kind.codec() == crate::VideoCodec::H264 {
                self.config = Some(self.avc_config()?);
            }
            let index = self.packet.pts().unwrap_or(-1);
            let &(pts, duration) =
                usize::try_from(index).ok().and_then(|i| self.timing.get(i)).ok_or_else(|| MediaError::Encode {
                    codec: self.kind.codec().as_str(),
                    reason: format!("{} returned a packet for unknown frame {index}", self.kind),
                })?;
            let bytes = self.packet.data().unwrap_or_default();
            let mut data = Vec::with_capacity(bytes.len());
            match self.kind.codec() {
                crate::VideoCodec::H264 => {
                    let nals = split_annexb(bytes);
                    let slices = nals.into_iter().filter(|n| !matches!(nal_type(n), NAL_SPS | NAL_PPS | NAL_AUD));
                    write_length_prefixed(slices, &mut data);
                }
                crate::VideoCodec::Av1 => {
                    for obu in crate::av1::split_obus(bytes)? {
                        // The configuration comes from the first in-band sequence
                        // header: SVT-AV1's global header lists fewer coding tools
                        // than the one it codes with, and av1C must match the stream.
                        if obu.kind == OBU_SEQUENCE_HEADER && self.config.is_none() {
                            self.config = Some(DecoderConfig::Av1(Av1Config::from_sequence_header(obu.bytes)?));
                        }
                        // ISO-BMFF AV1 samples carry no temporal delimiters.
                        if obu.kind != OBU_TEMPORAL_DELIMITER {
                            data.extend_from_slice(obu.bytes);
                        }
                    }
                }
            }
            self.coded.push_back(EncodedSample { pts, duration, is_sync: self.packet.is_key(), data });
        }
        Ok(())
    }
}

impl VideoEncoder for LibavEncoder {
    fn send_frame(&mut self, frame: &YuvFrame) -> Result<()> {
        if frame.width != self.width || frame.height != self.height {
            return Err(MediaError::Geometry(format!(
                "frame is {}x{}, encoder expects {}x{}",
                frame.width, frame.height, self.width, self.height
            )));
        }
        let mut picture = to_av_frame(frame);
        if !frame.captions.is_empty() {
            // libx264 (its `a53cc` option, on by default) writes them as an A/53 SEI.
            // SAFETY: allocates side data on a frame this function owns and fills all of it.
            unsafe {
                let side = ffi::av_frame_new_side_data(
                    picture.as_mut_ptr(),
                    ffi::AVFrameSideDataType::AV_FRAME_DATA_A53_CC,
                    frame.captions.len() as _,
                );
                if !side.is_null() {
                    std::ptr::copy_nonoverlapping(frame.captions.as_ptr(), (*side).data, frame.captions.len());
                }
            }
        }
        picture.set_pts(Some(self.timing.len() as i64));
        self.timing.push((frame.pts, frame.duration));
        self.encoder.send_frame(&picture).map_err(error(self.kind))?;
        self.drain()
    }

    fn receive(&mut self) -> Result<Option<EncodedSample>> {
        Ok(self.coded.pop_front())
    }

    fn flush(&mut self) -> Result<()> {
        self.encoder.send_eof().map_err(error(self.kind))?;
        self.drain()
    }

    fn codec_config(&self) -> Option<DecoderConfig> {
        self.config.clone()
    }
}
