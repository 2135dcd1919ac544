//! Thumbnails of a source segment, for a player's seek bar and poster: the
//! pictures at every multiple of the interval that falls in the segment,
//! side by side in one JPEG sprite, and, for the segment holding the poster
//! time, a larger poster JPEG. Pictures come through the same decode and
//! normalisation as the rungs (rotation, tone mapping, square pixels), so a
//! thumbnail is what the video shows. JPEG is written by libavcodec's MJPEG
//! encoder (full-range 4:2:0, as JPEG viewers expect); the output depends on
//! the segment and the settings only.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use crate::av::init;
use crate::av::video::decode_video;
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;
use crate::source_segment::SourceSegment;

/// What thumbnails to take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThumbnailTarget {
    /// Seconds between thumbnails (from the source's time 0).
    pub interval_secs: f64,
    /// Long side of a thumbnail in pixels (the short side follows the picture).
    pub long_side: u32,
    /// The poster's time in seconds from the source's time 0 (a poster is
    /// made when the segment holds it).
    pub poster_at_secs: f64,
    /// Long side of the poster in pixels (never above the picture's).
    pub poster_long_side: u32,
}

/// A segment's thumbnails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentThumbnails {
    /// The sprite: the thumbnails left to right, as a JPEG.
    pub sprite: Vec<u8>,
    /// Number of thumbnails in the sprite.
    pub count: u32,
    /// Size of one thumbnail.
    pub tile: (u32, u32),
    /// The poster JPEG, when the segment holds the poster time.
    pub poster: Option<Vec<u8>>,
    /// The segment's presentation start, in `timescale`.
    pub start: u64,
    /// The segment's duration, in `timescale`.
    pub duration: u64,
    /// Timescale of `start` and `duration`.
    pub timescale: u32,
}

/// A size with the picture's aspect and `long_side` as its longer side, both even.
fn fit(display: (u32, u32), long_side: u32) -> (u32, u32) {
    let (w, h) = (display.0.max(1) as f64, display.1.max(1) as f64);
    let long = f64::from(long_side.min(display.0.max(display.1)).max(2));
    let even = |x: f64| ((x / 2.0).round() as u32 * 2).max(2);
    if w >= h {
        (even(long), even(long * h / w))
    } else {
        (even(long * w / h), even(long))
    }
}

/// The thumbnail times (in `timescale` ticks) in `[start, end)`: multiples of the interval.
/// The packager's thumbnail track times its cues with the same.
pub fn thumbnail_times(start: i64, end: i64, interval_secs: f64, timescale: u32) -> Vec<i64> {
    let step = interval_secs * f64::from(timescale);
    if step <= 0.0 || end <= start {
        return Vec::new();
    }
    let first = (start as f64 / step).ceil() as i64;
    (first..).map(|k| (k as f64 * step).round() as i64).take_while(|&t| t < end).collect()
}

/// Takes the segment's thumbnails (and poster). A segment no thumbnail time
/// falls in gives an empty sprite (`count` 0, no bytes).
pub fn segment_thumbnails(segment: &SourceSegment, target: &ThumbnailTarget) -> Result<SegmentThumbnails> {
    let video = &segment.header.video;
    let timescale = video.timescale;
    let (start, end) = (video.out_ticks(video.start), video.out_ticks(video.end));
    let times = thumbnail_times(start, end, target.interval_secs, timescale);
    let tile = fit(video.normalise.display, target.long_side);
    let mut picked: Vec<Option<YuvFrame>> = vec![None; times.len()];
    let mut last: Option<YuvFrame> = None;
    if !times.is_empty() {
        decode_video(segment, tile, &mut |frame| {
            // Each time takes the first frame shown at or after it.
            for (slot, &t) in picked.iter_mut().zip(&times) {
                if slot.is_none() && frame.pts + i64::from(frame.duration) > t {
                    *slot = Some(frame.clone());
                }
            }
            last = Some(frame);
            Ok(())
        })?;
    }
    let tiles: Vec<YuvFrame> = picked.into_iter().filter_map(|f| f.or_else(|| last.clone())).collect();
    let sprite = if tiles.is_empty() { Vec::new() } else { encode_jpeg(&side_by_side(&tiles)?)? };
    let poster_at = (target.poster_at_secs * f64::from(timescale)).round() as i64;
    let poster = if (start..end).contains(&poster_at) {
        let size = fit(video.normalise.display, target.poster_long_side);
        let mut chosen: Option<YuvFrame> = None;
        decode_video(segment, size, &mut |frame| {
            if chosen.is_none() || frame.pts <= poster_at {
                chosen = Some(frame);
            }
            Ok(())
        })?;
        chosen.map(|f| encode_jpeg(&f)).transpose()?
    } else {
        None
    };
    Ok(SegmentThumbnails {
        sprite,
        count: u32::try_from(tiles.len()).unwrap_or(u32::MAX),
        tile,
        poster,
        start: u64::try_from(start).unwrap_or(0),
        duration: u64::try_from(end - start).unwrap_or(0),
        timescale,
    })
}

/// The frames left to right in one picture.
fn side_by_side(tiles: &[YuvFrame]) -> Result<YuvFrame> {
    let (w, h) = (tiles[0].width as usize, tiles[0].height as usize);
    let n = tiles.len();
    let (cw, ch) = (w / 2, h / 2);
    let mut y = vec![0u8; w * n * h];
    let mut u = vec![0u8; cw * n * ch];
    let mut v = vec![0u8; cw * n * ch];
    for (i, tile) in tiles.iter().enumerate() {
        for row in 0..h {
            y[row * w * n + i * w..][..w].copy_from_slice(&tile.y[row * w..][..w]);
        }
        for row in 0..ch {
            u[row * cw * n + i * cw..][..cw].copy_from_slice(&tile.u[row * cw..][..cw]);
            v[row * cw * n + i * cw..][..cw].copy_from_slice(&tile.v[row * cw..][..cw]);
        }
    }
    YuvFrame::new((w * n) as u32, h as u32, y, u, v, 0, 0)
}

/// Limited-range (video) samples to full range (JPEG): luma 16-235 and
/// chroma 16-240 stretched to 0-255.
fn to_full_range(frame: &YuvFrame) -> YuvFrame {
    let stretch = |plane: &[u8], low: f32, span: f32, centre: f32| -> Vec<u8> {
        plane.iter().map(|&s| ((f32::from(s) - low) * 255.0 / span + centre).round().clamp(0.0, 255.0) as u8).collect()
    };
    YuvFrame {
        y: stretch(&frame.y, 16.0, 219.0, 0.0),
        u: stretch(&frame.u, 128.0, 224.0, 128.0),
        v: stretch(&frame.v, 128.0, 224.0, 128.0),
        ..frame.clone()
    }
}

/// JPEG quality as MJPEG's qscale (2 best - 31 worst).
const JPEG_QSCALE: i32 = 4;

fn jpeg_error(e: ffmpeg::Error) -> MediaError {
    MediaError::Encode { codec: "jpeg", reason: e.to_string() }
}

/// One picture as a baseline JPEG (libavcodec's MJPEG encoder, one thread).
fn encode_jpeg(frame: &YuvFrame) -> Result<Vec<u8>> {
    init();
    let codec = ffmpeg::encoder::find(ffmpeg::codec::Id::MJPEG)
        .ok_or_else(|| MediaError::Encode { codec: "jpeg", reason: "this FFmpeg has no MJPEG encoder".into() })?;
    let mut context = ffmpeg::codec::Context::new_with_codec(codec);
    // SAFETY: plain fields of an unopened codec context.
    unsafe {
        let c = &mut *context.as_mut_ptr();
        c.width = frame.width as i32;
        c.height = frame.height as i32;
        c.pix_fmt = ffi::AVPixelFormat::AV_PIX_FMT_YUVJ420P;
        c.color_range = ffi::AVColorRange::AVCOL_RANGE_JPEG;
        c.time_base = ffi::AVRational { num: 1, den: 25 };
        c.thread_count = 1;
        c.flags |= (ffi::AV_CODEC_FLAG_QSCALE | ffi::AV_CODEC_FLAG_BITEXACT) as i32;
        c.global_quality = ffi::FF_QP2LAMBDA * JPEG_QSCALE;
    }
    let mut encoder = context.encoder().video().map_err(jpeg_error)?.open().map_err(jpeg_error)?;
    let mut picture = crate::av::encoder::to_av_frame(&to_full_range(frame));
    // SAFETY: plain fields of an allocated frame.
    unsafe {
        let p = &mut *picture.as_mut_ptr();
        p.format = ffi::AVPixelFormat::AV_PIX_FMT_YUVJ420P as i32;
        p.color_range = ffi::AVColorRange::AVCOL_RANGE_JPEG;
        p.quality = ffi::FF_QP2LAMBDA * JPEG_QSCALE;
    }
    picture.set_pts(Some(0));
    encoder.send_frame(&picture).map_err(jpeg_error)?;
    encoder.send_eof().map_err(jpeg_error)?;
    let mut packet = ffmpeg::Packet::empty();
    let mut out = Vec::new();
    while encoder.receive_packet(&mut packet).is_ok() {
        out.extend_from_slice(packet.data().unwrap_or_default());
    }
    if out.is_empty() {
        return Err(MediaError::Encode { codec: "jpeg", reason: "the encoder wrote nothing".into() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_the_picture_shape_with_the_long_side_given() {
        assert_eq!(fit((1280, 720), 160), (160, 90));
        assert_eq!(fit((720, 1280), 160), (90, 160));
        assert_eq!(fit((320, 180), 640), (320, 180), "never above the picture");
    }

    #[test]
    fn times_are_the_multiples_of_the_interval_in_the_range() {
        assert_eq!(thumbnail_times(0, 4000, 2.0, 1000), [0, 2000]);
        assert_eq!(thumbnail_times(4000, 6500, 2.0, 1000), [4000, 6000]);
        assert_eq!(thumbnail_times(4100, 5900, 2.0, 1000), Vec::<i64>::new());
    }

    #[test]
    fn a_jpeg_is_written() {
        let frame = YuvFrame::new(32, 16, vec![128; 512], vec![100; 128], vec![150; 128], 0, 0).unwrap();
        let sprite = side_by_side(&[frame.clone(), frame]).unwrap();
        assert_eq!((sprite.width, sprite.height), (64, 16));
        let jpeg = encode_jpeg(&sprite).unwrap();
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8], "SOI");
    }
}
