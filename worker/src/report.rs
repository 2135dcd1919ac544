//! The `segment_done` report of a task, from what it produced.

use tessera_core::wire::{RenditionSpec, SegmentDone, TrackConfig};
use tessera_media::pipeline::AudioRendition;

use crate::encode_child::EncodedFigures;
use crate::transcode::RenditionSegment;

/// The report of an encoded video segment.
pub(crate) fn video_done(out: RenditionSegment, spec: &RenditionSpec, seq: u32) -> (Vec<u8>, SegmentDone) {
    let done = figures_done(EncodedFigures::of(&out, 0.0), spec, seq);
    (out.fragment, done)
}

/// The report of an encoded video segment from its figures (in this process or an encode child).
pub(crate) fn figures_done(figures: EncodedFigures, spec: &RenditionSpec, seq: u32) -> SegmentDone {
    SegmentDone {
        start: figures.start,
        duration: figures.duration,
        timescale: figures.timescale,
        frames: figures.frames,
        width: figures.width,
        height: figures.height,
        codec_string: figures.codec_string,
        config: figures.config,
        psnr: Some(figures.quality[0]),
        psnr_y: Some(figures.quality[1]),
        ssim: Some(figures.quality[2]),
        cpu_secs: figures.cpu_secs,
        closed_captions: figures.closed_captions,
        caption_frames: figures.caption_frames,
        ..unfinished(spec, seq)
    }
}

/// The report of an audio segment.
pub(crate) fn audio_done(out: &AudioRendition, spec: &RenditionSpec, seq: u32) -> SegmentDone {
    SegmentDone {
        start: out.start,
        duration: out.duration,
        timescale: out.timescale,
        frames: u32::try_from(out.frames).unwrap_or(u32::MAX),
        codec_string: out.config.codec_string(),
        config: TrackConfig::from_decoder(&tessera_media::DecoderConfig::Aac(out.config.clone())),
        ..unfinished(spec, seq)
    }
}

/// A segment report with the rendition's name and no figures yet.
pub(crate) fn unfinished(rendition: &RenditionSpec, seq: u32) -> SegmentDone {
    SegmentDone::new(&rendition.name(), seq)
}
