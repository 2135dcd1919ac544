//! The WebVTT thumbnail track: one cue per thumbnail, from its time to the
//! next one's, whose text is the sprite holding it with the thumbnail's
//! place in it as a media fragment (`thumbnails/000003.jpg#xywh=160,0,160,90`),
//! the convention seek-bar previews in video.js, JW Player, Plyr, Vidstack
//! and Shaka's UI read.

use tessera_core::wire::{RenditionSpec, ThumbnailSpec};
use tessera_media::captions::{webvtt as write_webvtt, Cue};
use tessera_media::thumbnails::thumbnail_times;

use crate::rendition::Rendition;

/// Name of the track, at the output prefix's root (next to `poster.jpg`).
pub const TRACK: &str = "thumbnails.vtt";

/// Name of the poster.
pub const POSTER: &str = "poster.jpg";

/// The spec of a thumbnails rendition.
pub fn spec_of(rendition: &Rendition) -> Option<ThumbnailSpec> {
    match rendition.spec {
        RenditionSpec::Thumbnails(spec) => Some(spec),
        _ => None,
    }
}

/// The WebVTT track of a finished thumbnails rendition whose video lasts `duration_secs`.
pub fn webvtt(rendition: &Rendition, duration_secs: f64) -> String {
    let Some(spec) = spec_of(rendition) else { return write_webvtt(&[]) };
    let ms = |secs: f64| (secs.max(0.0) * 1000.0).round() as u64;
    let mut cues = Vec::new();
    for segment in &rendition.segments {
        let timescale = segment.timescale.max(1);
        let (start, end) = (segment.start as i64, (segment.start + segment.duration) as i64);
        // The same times the worker took its thumbnails at, one per picture in the sprite.
        let times = thumbnail_times(start, end, spec.interval_secs, timescale);
        for (i, at) in (0..segment.frames).zip(times) {
            let at = at as f64 / f64::from(timescale);
            let until = (at + spec.interval_secs).min(duration_secs.max(at + 0.001));
            let (w, h) = (segment.width, segment.height);
            let text = format!("thumbnails/{:06}.jpg#xywh={},0,{w},{h}", segment.seq, i * w);
            cues.push(Cue { start_ms: ms(at), end_ms: ms(until), text });
        }
    }
    write_webvtt(&cues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::wire::SegmentDone;

    #[test]
    fn one_cue_per_thumbnail_pointing_into_its_sprite() {
        let spec = ThumbnailSpec::every(2.0, 5.0);
        let segment = |seq: u32, start: u64, duration: u64, frames: u32| SegmentDone {
            start,
            duration,
            timescale: 1000,
            frames,
            width: 160,
            height: 90,
            ..SegmentDone::new("thumbnails", seq)
        };
        let r =
            Rendition::new(RenditionSpec::Thumbnails(spec), vec![segment(0, 0, 3000, 2), segment(1, 3000, 2000, 1)])
                .unwrap();
        let vtt = webvtt(&r, 5.0);
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nthumbnails/000000.jpg#xywh=0,0,160,90\n\
             \n00:00:02.000 --> 00:00:04.000\nthumbnails/000000.jpg#xywh=160,0,160,90\n\
             \n00:00:04.000 --> 00:00:05.000\nthumbnails/000001.jpg#xywh=0,0,160,90\n"
        );
    }
}
