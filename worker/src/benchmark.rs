//! A benchmark-only stand-in for decoding and encoding, so that the dispatch
//! path (coordinator, bus, worker scheduling, store, packager) can be
//! measured without the codecs dominating. The service sleeps so that every
//! task takes a fixed time; this module makes a fragment the packager
//! accepts: one grey frame of the rung's size lasting the whole segment,
//! with the source segment's real timing. Never used outside benchmarks.

use tessera_core::Rung;
use tessera_media::scale::rung_size;
use tessera_media::{encode_segment, EncoderSettings, SpeedPreset, YuvFrame};

use crate::error::WorkerError;
use crate::transcode::{parse_source_segment, RenditionSegment};

/// A one-frame fragment spanning the source segment, at the rung's size and codec.
pub fn fixed_time_stand_in(source_segment: &[u8], seq: u32, rung: &Rung) -> Result<RenditionSegment, WorkerError> {
    let bad = |reason: &str| WorkerError::BadSourceSegment { seq, reason: reason.into() };
    let segment = parse_source_segment(source_segment, seq)?;
    let video = &segment.header.video;
    let start = u64::try_from(video.out_ticks(video.start)).map_err(|_| bad("negative start time"))?;
    let end = u64::try_from(video.out_ticks(video.end)).map_err(|_| bad("negative end time"))?;
    let duration = end.saturating_sub(start);
    let (width, height) = rung_size(video.normalise.display, rung.height);
    let (cw, ch) = (width.div_ceil(2) as usize, height.div_ceil(2) as usize);
    let luma = width as usize * height as usize;
    let grey = YuvFrame::new(width, height, vec![128; luma], vec![128; cw * ch], vec![128; cw * ch], 0, 1)?;
    let settings = EncoderSettings {
        encoder: rung.encoder_kind(&tessera_media::BuildEncoders),
        width,
        height,
        bitrate_kbps: rung.bitrate_kbps,
        quality: None,
        segment_secs: duration as f64 / f64::from(video.timescale.max(1)),
        frame_rate: 30.0,
        speed: SpeedPreset::Veryfast,
        threads: 1,
        low_delay: false,
    };
    let mut encoded = encode_segment(&settings, &[grey])?;
    let first = encoded.samples.first_mut().ok_or_else(|| bad("the stand-in encoder made no frame"))?;
    first.duration = u32::try_from(duration).map_err(|_| bad("segment too long"))?;
    let fragment = encoded.to_fragment(seq + 1, 1, start)?;
    Ok(RenditionSegment {
        fragment,
        codec_string: encoded.config.codec_string().map_err(tessera_media::MediaError::from)?,
        config: encoded.config,
        width,
        height,
        timescale: video.timescale,
        start,
        duration,
        frames: 1,
        quality: encoded.quality,
        closed_captions: false,
        caption_frames: Vec::new(),
    })
}
