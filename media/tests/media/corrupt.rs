//! Damaged files never panic: every truncation point and a few hundred byte
//! flips of a real file either demux and segment, or return an error.

use std::io::Cursor;
use std::time::Duration;

use tessera_media::source_segment::cut_source_segment;
use tessera_media::{plan_segments, Limits, Mp4Source};

use crate::fixtures;

/// Demuxes, plans and cuts every segment; errors are fine, panics are not.
fn exercise(bytes: &[u8]) -> bool {
    let mut r = Cursor::new(bytes);
    let Ok(source) = Mp4Source::open(&mut r, &Limits::default()) else { return false };
    let Ok(plans) = plan_segments(&source.video, source.audio.as_ref(), Duration::from_secs(1)) else { return false };
    plans.iter().all(|plan| cut_source_segment(&mut r, &source, plan).is_ok())
}

#[test]
fn truncations_and_bit_flips_are_errors_not_panics() {
    for path in [fixtures::faststart(), fixtures::high_bframes()] {
        let original = std::fs::read(&path).unwrap();
        assert!(exercise(&original), "the undamaged file must work");
        // Cut at 200 points spread over the file, plus every byte of the first 64.
        let cuts = (0..64).chain((1..200).map(|i| original.len() * i / 200));
        for len in cuts {
            exercise(&original[..len]);
        }
        // Flip bytes at positions from a fixed pseudo-random sequence, 300 anywhere
        // and 700 inside the moov box, where the sample tables are.
        let moov = moov_range(&original);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for i in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut damaged = original.clone();
            let (start, len) = if i < 300 { (0, original.len()) } else { (moov.start, moov.len()) };
            let pos = start + (x % len as u64) as usize;
            damaged[pos] ^= (x >> 32) as u8 | 1;
            exercise(&damaged);
        }
    }
}

/// Byte range of the top-level moov box (sizes are 32-bit in ffmpeg's small files).
fn moov_range(file: &[u8]) -> std::ops::Range<usize> {
    let mut pos = 0;
    while pos + 8 <= file.len() {
        let size = u32::from_be_bytes(file[pos..pos + 4].try_into().unwrap()) as usize;
        if &file[pos + 4..pos + 8] == b"moov" {
            return pos..pos + size;
        }
        pos += size.max(8);
    }
    panic!("no moov box");
}
