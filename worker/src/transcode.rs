//! One task's work: source segment bytes in, a rendition fragment out.

use std::io::Cursor;

use tessera_core::Rung;
use tessera_media::h264::decoder::decode_track;
use tessera_media::scale::{rung_dimensions, Scaler};
use tessera_media::{encode_segment, CodecConfig, EncoderSettings, Limits, Mp4Source, SpeedPreset, YuvFrame};

use crate::error::WorkerError;

/// A finished rendition segment.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionSegment {
    /// The CMAF fragment (moof + mdat), `tfdt` = the segment's presentation start.
    pub fragment: Vec<u8>,
    /// Decoder configuration for the rendition's init segment.
    pub config: CodecConfig,
    /// RFC 6381 codec string.
    pub codec_string: String,
    /// Output width.
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Timescale of the fragment (the source's video timescale).
    pub timescale: u32,
    /// Presentation start in the timescale.
    pub start: u64,
    /// Duration in the timescale.
    pub duration: u64,
    /// Number of frames.
    pub frames: usize,
    /// Mean PSNR of the coded frames against the scaled source frames.
    pub psnr: f64,
}

/// A source segment decoded to frames in presentation order: the input of
/// every video rung of that segment (decoded once, shared by the rungs).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSegment {
    /// Segment number.
    pub seq: u32,
    /// Frames in presentation order.
    pub frames: Vec<YuvFrame>,
    /// Source width.
    pub width: u32,
    /// Source height.
    pub height: u32,
    /// The source's video timescale.
    pub timescale: u32,
    /// The source's nominal frame rate (0 when unknown).
    pub frame_rate: f64,
    /// Presentation start of the first frame, in the timescale.
    pub start: u64,
}

/// Decodes a source segment (as written by the segmenter).
pub fn decode_source_segment(source_segment: &[u8], seq: u32) -> Result<DecodedSegment, WorkerError> {
    let bad = |reason: String| WorkerError::BadSourceSegment { seq, reason };
    let mut reader = Cursor::new(source_segment);
    let source = Mp4Source::open(&mut reader, &Limits::default())?;
    let video = &source.video;
    let data = source.read_samples(&mut reader, &video.samples)?;
    let frames = decode_track(video, &video.samples, &data)?;
    let first = frames.first().ok_or_else(|| bad("no frames".into()))?;
    let start = u64::try_from(first.pts).map_err(|_| bad(format!("negative start time {}", first.pts)))?;
    Ok(DecodedSegment {
        seq,
        width: video.width,
        height: video.height,
        timescale: video.timescale,
        frame_rate: video.frame_rate(),
        start,
        frames,
    })
}

/// Transcodes one source segment to one rung. `seq` becomes the fragment's
/// sequence number (plus one).
pub fn transcode_segment(
    source_segment: &[u8],
    seq: u32,
    rung: &Rung,
    default_speed: SpeedPreset,
) -> Result<RenditionSegment, WorkerError> {
    encode_rung(&decode_source_segment(source_segment, seq)?, rung, default_speed, 0.0)
}

/// Scales a decoded segment to a rung and encodes it with a fresh encoder.
/// `source_frame_rate` is the whole source's (0: use the segment's own).
pub fn encode_rung(
    decoded: &DecodedSegment,
    rung: &Rung,
    default_speed: SpeedPreset,
    source_frame_rate: f64,
) -> Result<RenditionSegment, WorkerError> {
    let (width, height) = rung_dimensions(decoded.width, decoded.height, rung.height);
    let mut scaler = Scaler::new();
    let frames = decoded.frames.iter().map(|f| scaler.scale(f, width, height)).collect::<Result<Vec<_>, _>>()?;
    let nominal = if source_frame_rate > 0.0 { source_frame_rate } else { decoded.frame_rate };
    let frame_rate = match (nominal, rung.max_frame_rate) {
        (f, Some(cap)) if f > cap => cap,
        (f, _) if f > 0.0 => f,
        _ => 30.0,
    };
    let settings = EncoderSettings {
        codec: rung.codec,
        width,
        height,
        bitrate_kbps: rung.bitrate_kbps,
        frame_rate,
        speed: rung.speed.unwrap_or(default_speed),
        threads: 1,
    };
    let encoded = encode_segment(&settings, &frames)?;
    let fragment = encoded.to_fragment(decoded.seq + 1, 1, decoded.start)?;
    Ok(RenditionSegment {
        fragment,
        codec_string: encoded.config.codec_string()?,
        config: encoded.config,
        width,
        height,
        timescale: decoded.timescale,
        start: decoded.start,
        duration: encoded.samples.iter().map(|s| u64::from(s.duration)).sum(),
        frames: encoded.samples.len(),
        psnr: encoded.psnr,
    })
}
