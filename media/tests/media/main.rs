//! Media-core tests on real media: fixtures made by ffmpeg, our output
//! checked by ffprobe/ffmpeg.

mod bad_input;
mod cmaf;
mod codec;
mod corrupt;
mod demux;
mod fixtures;
mod segment;

use std::fs::File;
use std::path::Path;

use tessera_media::{Limits, Mp4Source, YuvFrame};

/// Opens a file with default limits.
pub fn open(path: &Path) -> tessera_media::Result<(Mp4Source, File)> {
    let mut file = File::open(path).expect("open fixture");
    let source = Mp4Source::open(&mut file, &Limits::default())?;
    Ok((source, file))
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

/// Decodes every video sample of a source with our decoder.
pub fn decode_source(source: &Mp4Source, file: &mut File) -> Vec<YuvFrame> {
    let data = source.read_samples(file, &source.video.samples).expect("samples");
    tessera_media::h264::decoder::decode_track(&source.video, &source.video.samples, &data).expect("decode")
}
