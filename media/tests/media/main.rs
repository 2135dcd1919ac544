//! Media-core tests on real media: fixtures made by ffmpeg, our output
//! checked by ffprobe/ffmpeg.

mod cmaf;
mod codec;
mod fixtures;
mod input;
mod segment;

use std::path::Path;
use std::time::Duration;

use tessera_media::av::video::decode_video;
use tessera_media::av::SourceFile;
use tessera_media::source_segment::SourceSegment;
use tessera_media::{Limits, MediaError, YuvFrame};

/// Opens, plans and cuts a file into `target`-long source segments.
pub fn cut(path: &Path, target: Duration) -> tessera_media::Result<(SourceFile, Vec<SourceSegment>)> {
    let source = SourceFile::open(path, &Limits::default())?;
    let spans = source.plan(target)?;
    let mut segments = Vec::new();
    source.cut::<MediaError>(&spans, &[], |s| {
        segments.push(s);
        Ok(())
    })?;
    Ok((source, segments))
}

/// Decodes a segment's frames at `size` (None: as shown).
pub fn decode_segment(segment: &SourceSegment, size: Option<(u32, u32)>) -> Vec<YuvFrame> {
    let size = size.unwrap_or(segment.header.video.normalise.display);
    let mut frames = Vec::new();
    decode_video(segment, size, &mut |f| {
        frames.push(f);
        Ok(())
    })
    .expect("decode");
    frames
}

/// Decodes every frame of a file through the front end, as one segment.
pub fn decode_file(path: &Path, size: Option<(u32, u32)>) -> Vec<YuvFrame> {
    let (_, segments) = cut(path, Duration::from_secs(3600)).expect("cut");
    assert_eq!(segments.len(), 1);
    decode_segment(&segments[0], size)
}

/// Splits a raw yuv420p buffer into frames.
pub fn raw_frames(raw: &[u8], width: u32, height: u32) -> Vec<YuvFrame> {
    let luma = (width * height) as usize;
    let size = luma * 3 / 2;
    assert_eq!(raw.len() % size, 0, "raw buffer is not whole frames");
    raw.chunks(size)
        .enumerate()
        .map(|(i, f)| {
            YuvFrame::new(
                width,
                height,
                f[..luma].to_vec(),
                f[luma..luma * 5 / 4].to_vec(),
                f[luma * 5 / 4..].to_vec(),
                i as i64,
                1,
            )
            .expect("frame")
        })
        .collect()
}
