//! One task's work: source segment bytes in, a rendition fragment out. The
//! pipeline itself lives in `tessera_media::pipeline`; this maps a task's
//! rung onto it.

use tessera_core::Rung;
use tessera_media::pipeline::{encode_video, RungTarget};
use tessera_media::source_segment::SourceSegment;

use crate::error::WorkerError;

pub use tessera_media::pipeline::VideoRendition as RenditionSegment;

/// Parses a source segment, checking it is the one the task names.
pub fn parse_source_segment(bytes: &[u8], seq: u32) -> Result<SourceSegment, WorkerError> {
    let segment = SourceSegment::parse(bytes)?;
    if segment.header.seq != seq {
        return Err(WorkerError::BadSourceSegment {
            seq,
            reason: format!("it is segment {}, not {seq}", segment.header.seq),
        });
    }
    Ok(segment)
}

/// The encoder's nominal frame rate: the whole source's (so every segment
/// of a rendition shares one level), capped by the rung.
fn frame_rate(rung: &Rung, source_frame_rate: f64) -> f64 {
    match (source_frame_rate, rung.max_frame_rate) {
        (f, Some(cap)) if f > cap => cap,
        (f, _) if f > 0.0 && f <= 240.0 => f,
        _ => 30.0,
    }
}

/// Transcodes one source segment to one rung. `source_frame_rate` is the
/// whole source's nominal rate (0: unknown).
pub fn transcode_segment(
    source_segment: &[u8],
    seq: u32,
    rung: &Rung,
    source_frame_rate: f64,
) -> Result<RenditionSegment, WorkerError> {
    let segment = parse_source_segment(source_segment, seq)?;
    Ok(encode_video(&segment, &rung_target(rung, source_frame_rate))?)
}

/// What the media pipeline is asked for a rung: its encoder, size, rate and
/// speed (a task's rung always names one: the coordinator fills in its job's;
/// else the default).
pub(crate) fn rung_target(rung: &Rung, source_frame_rate: f64) -> RungTarget {
    RungTarget {
        encoder: rung.encoder_kind(&tessera_media::BuildEncoders),
        height: rung.height,
        bitrate_kbps: rung.bitrate_kbps,
        quality: rung.crf,
        speed: rung.speed.unwrap_or_default(),
        frame_rate: frame_rate(rung, source_frame_rate),
    }
}
