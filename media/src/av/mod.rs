//! FFmpeg's libraries (libavformat, libavcodec, libavfilter through
//! `ffmpeg-next`): everything Tessera reads from users goes through here.
//!
//! - [`input`]: opening an upload in any container libavformat reads,
//!   describing it ([`MediaInfo`]) and indexing its video packets.
//! - [`params`]: codec parameters as plain data, so a source segment can
//!   carry any codec to a worker.
//! - [`audio`]: the upload's first audio track as AAC-LC (copied when it
//!   already is, otherwise decoded, resampled and encoded by FFmpeg's AAC encoder).
//! - [`video`]: decoding a source segment and normalising its frames
//!   (deinterlace, tone-map, rotate, square pixels, 8-bit 4:2:0 BT.709) at a
//!   rung's size, in one filter graph.
//! - [`encoder`]: x264 and SVT-AV1, hosted in libavcodec.
//! - [`quality_meter`]: decoding coded samples again to measure them.
//!
//! Every codec and filter runs on one thread (with FFmpeg's bit-exact flags
//! where they apply), so a task gives the same bytes on any worker.

use std::sync::Once;

use ffmpeg_next as ffmpeg;

pub mod audio;
pub mod encoder;
pub mod input;
pub mod params;
pub mod quality_meter;
pub mod ts_stream;
pub mod video;

pub use encoder::has_encoder;
pub use input::{AudioInfo, ColorInfo, MediaInfo, SourceFile, VideoInfo};

/// Initialises FFmpeg once per process and keeps its logging quiet (errors
/// reach users through [`crate::MediaError`], not stderr).
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Registration is a no-op on FFmpeg >= 4; it cannot fail there.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
        // SVT-AV1 logs its whole configuration to stdout for every encoder it
        // opens (one per task) unless told otherwise; errors only. Set once,
        // before the first encoder, unless the operator chose a level.
        if std::env::var_os("SVT_LOG").is_none() {
            std::env::set_var("SVT_LOG", "1");
        }
        fill_new_allocations();
    });
}

/// Makes every heap allocation from here on start with the same bytes.
///
/// x264 (0.164, Debian 12's) reads some memory it allocated before writing
/// it: on some picture sizes (320x180, 426x240 among them) its output then
/// depends on what the process did before (another encoder's freed buffers),
/// so the same task gave different bytes on two workers. glibc's
/// `M_PERTURB` fills each new allocation with one byte, which makes those
/// reads, and so the output, the same on every worker. It costs a memset per
/// allocation (see benches/README.md).
fn fill_new_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
        }
        const M_PERTURB: std::ffi::c_int = -6;
        // SAFETY: mallopt only sets an allocator parameter; glibc takes its own lock.
        unsafe { mallopt(M_PERTURB, 0x5a) };
    }
}

/// A copy of codec extradata (`extradata`, `extradata_size` of a codec
/// context or its parameters); empty when there is none.
///
/// # Safety
/// `data` is null or points at `size` readable bytes.
pub(crate) unsafe fn copy_extradata(data: *const u8, size: i32) -> Vec<u8> {
    match usize::try_from(size) {
        Ok(len) if !data.is_null() && len > 0 => {
            // SAFETY: the caller's promise.
            unsafe { std::slice::from_raw_parts(data, len) }.to_vec()
        }
        _ => Vec::new(),
    }
}

/// `num/den` as a float (0 when the denominator is 0).
pub(crate) fn ratio(r: ffmpeg::Rational) -> f64 {
    if r.denominator() == 0 {
        0.0
    } else {
        f64::from(r.numerator()) / f64::from(r.denominator())
    }
}

/// Rescales `value` from one time base to another, rounding to nearest.
pub(crate) fn rescale(value: i64, from: (i32, i32), to: (i32, i32)) -> i64 {
    // av_rescale_q with AV_ROUND_NEAR_INF, in i128 so no input can overflow.
    let num = i128::from(value) * i128::from(from.0) * i128::from(to.1);
    let den = i128::from(from.1) * i128::from(to.0);
    if den == 0 {
        return 0;
    }
    let q = num.div_euclid(den);
    let r = num.rem_euclid(den);
    let rounded = if 2 * r >= den { q + 1 } else { q };
    i64::try_from(rounded).unwrap_or(if rounded < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::rescale;

    #[test]
    fn rescale_rounds_to_nearest() {
        assert_eq!(rescale(1, (1, 1000), (1, 90_000)), 90);
        assert_eq!(rescale(33, (1, 1000), (1, 90_000)), 2970);
        assert_eq!(rescale(1001, (1, 30_000), (1, 1000)), 33);
        assert_eq!(rescale(-1024, (1, 48_000), (1, 90_000)), -1920);
        assert_eq!(rescale(3, (1, 2), (1, 1)), 2);
    }
}
