//! Objective quality: PSNR between two 4:2:0 frames of the same size.

use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;

fn mse(a: &[u8], b: &[u8]) -> f64 {
    let sum: u64 = a.iter().zip(b).map(|(&x, &y)| u64::from(x.abs_diff(y)).pow(2)).sum();
    sum as f64 / a.len().max(1) as f64
}

/// PSNR of a frame from its summed squared error over `samples` samples,
/// capped at 100 dB (identical frames) as [`mean_psnr`] counts them.
pub(crate) fn capped_psnr_from_sse(sse: u64, samples: u64) -> f64 {
    psnr_from_mse(sse as f64 / samples.max(1) as f64).min(100.0)
}

fn psnr_from_mse(mse: f64) -> f64 {
    if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

/// PSNR over all three planes, weighted by sample count (ffmpeg's "average").
pub fn psnr(a: &YuvFrame, b: &YuvFrame) -> Result<f64> {
    if (a.width, a.height) != (b.width, b.height) {
        return Err(MediaError::Geometry(format!(
            "cannot compare {}x{} with {}x{}",
            a.width, a.height, b.width, b.height
        )));
    }
    let n = a.y.len() as f64;
    let total = mse(&a.y, &b.y) * n + (mse(&a.u, &b.u) + mse(&a.v, &b.v)) * n / 4.0;
    Ok(psnr_from_mse(total / (n * 1.5)))
}

/// Mean of per-frame PSNR over two equally long frame sequences, with
/// identical frames counted at 100 dB so the mean stays finite.
pub fn mean_psnr(a: &[YuvFrame], b: &[YuvFrame]) -> Result<f64> {
    if a.len() != b.len() || a.is_empty() {
        return Err(MediaError::Geometry(format!("cannot compare {} frames with {}", a.len(), b.len())));
    }
    let mut sum = 0.0;
    for (x, y) in a.iter().zip(b) {
        sum += psnr(x, y)?.min(100.0);
    }
    Ok(sum / a.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn psnr_of_known_error() {
        let f = |v: u8| YuvFrame::new(4, 4, vec![v; 16], vec![v; 4], vec![v; 4], 0, 1).unwrap();
        assert!(psnr(&f(10), &f(10)).unwrap().is_infinite());
        // Every sample off by 1: MSE 1, PSNR = 20*log10(255) = 48.13 dB.
        assert!((psnr(&f(10), &f(11)).unwrap() - 48.1308).abs() < 1e-3);
    }
}
