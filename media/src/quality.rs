//! Objective quality of a coded picture against the picture the encoder was
//! given: PSNR over all planes, PSNR of luma alone, and SSIM of luma (the
//! 8x8-window, step-4 SSIM of x264 and FFmpeg's `ssim` filter).

use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;

/// One 8-bit plane as decoders and filters hand them out (rows `stride` apart).
#[derive(Debug, Clone, Copy)]
pub struct Plane<'a> {
    /// Samples, at least `stride * (height - 1) + width` of them.
    pub data: &'a [u8],
    /// Distance between rows.
    pub stride: usize,
    /// Samples per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
}

impl<'a> Plane<'a> {
    fn row(&self, y: usize) -> &'a [u8] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }

    fn check(&self) -> Result<()> {
        if self.stride < self.width || self.data.len() < self.stride * self.height.saturating_sub(1) + self.width {
            return Err(MediaError::Geometry(format!(
                "plane of {} bytes with stride {} cannot hold {}x{}",
                self.data.len(),
                self.stride,
                self.width,
                self.height
            )));
        }
        Ok(())
    }
}

/// The three planes of a packed [`YuvFrame`].
pub fn planes(frame: &YuvFrame) -> [Plane<'_>; 3] {
    let (w, h) = (frame.width as usize, frame.height as usize);
    [
        Plane { data: &frame.y, stride: w, width: w, height: h },
        Plane { data: &frame.u, stride: w / 2, width: w / 2, height: h / 2 },
        Plane { data: &frame.v, stride: w / 2, width: w / 2, height: h / 2 },
    ]
}

fn same_shape(a: &Plane<'_>, b: &Plane<'_>) -> Result<()> {
    a.check()?;
    b.check()?;
    if (a.width, a.height) != (b.width, b.height) {
        return Err(MediaError::Geometry(format!(
            "cannot compare {}x{} with {}x{}",
            a.width, a.height, b.width, b.height
        )));
    }
    Ok(())
}

/// Summed squared error of two planes of the same size.
pub fn sse(a: &Plane<'_>, b: &Plane<'_>) -> Result<u64> {
    same_shape(a, b)?;
    let mut sum = 0u64;
    for y in 0..a.height {
        let row: u64 = a.row(y).iter().zip(b.row(y)).map(|(&x, &z)| u64::from(x.abs_diff(z)).pow(2)).sum();
        sum += row;
    }
    Ok(sum)
}

/// PSNR of a summed squared error over `samples` samples, capped at 100 dB
/// (identical pictures) so means stay finite.
pub fn psnr_from_sse(sse: u64, samples: u64) -> f64 {
    if sse == 0 {
        return 100.0;
    }
    let mse = sse as f64 / samples.max(1) as f64;
    (10.0 * (255.0f64 * 255.0 / mse).log10()).min(100.0)
}

/// SSIM of two planes of the same size: the mean over 8x8 windows placed
/// every 4 samples, as x264 and FFmpeg's `ssim` filter compute it.
pub fn ssim(a: &Plane<'_>, b: &Plane<'_>) -> Result<f64> {
    same_shape(a, b)?;
    let (bw, bh) = (a.width / 4, a.height / 4);
    if bw < 2 || bh < 2 {
        // Too small for one window: identical or not.
        return Ok(if sse(a, b)? == 0 { 1.0 } else { 0.0 });
    }
    // Per 4x4 block: sum a, sum b, sum a²+b², sum ab.
    let mut blocks = vec![[0u32; 4]; bw * bh];
    for by in 0..bh {
        for y in by * 4..by * 4 + 4 {
            let (ra, rb) = (a.row(y), b.row(y));
            for bx in 0..bw {
                let s = &mut blocks[by * bw + bx];
                for x in bx * 4..bx * 4 + 4 {
                    let (p, q) = (u32::from(ra[x]), u32::from(rb[x]));
                    s[0] += p;
                    s[1] += q;
                    s[2] += p * p + q * q;
                    s[3] += p * q;
                }
            }
        }
    }
    const C1: f64 = 0.01 * 0.01 * 255.0 * 255.0 * 64.0;
    const C2: f64 = 0.03 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0;
    let mut total = 0.0;
    for by in 0..bh - 1 {
        for bx in 0..bw - 1 {
            let mut s = [0f64; 4];
            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let block = &blocks[(by + dy) * bw + bx + dx];
                for k in 0..4 {
                    s[k] += f64::from(block[k]);
                }
            }
            let [s1, s2, ss, s12] = s;
            let vars = ss * 64.0 - s1 * s1 - s2 * s2;
            let covar = s12 * 64.0 - s1 * s2;
            total += (2.0 * s1 * s2 + C1) * (2.0 * covar + C2) / ((s1 * s1 + s2 * s2 + C1) * (vars + C2));
        }
    }
    Ok(total / ((bw - 1) * (bh - 1)) as f64)
}

/// One coded picture's quality against its original.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameQuality {
    /// PSNR over all three planes, weighted by sample count (FFmpeg's "average").
    pub psnr: f64,
    /// PSNR of luma.
    pub psnr_y: f64,
    /// SSIM of luma.
    pub ssim: f64,
}

/// Measures a coded picture (`coded`, 4:2:0 planes) against its original.
pub fn measure(original: &YuvFrame, coded: [Plane<'_>; 3]) -> Result<FrameQuality> {
    let source = planes(original);
    let luma = sse(&source[0], &coded[0])?;
    let chroma = sse(&source[1], &coded[1])? + sse(&source[2], &coded[2])?;
    let luma_samples = (source[0].width * source[0].height) as u64;
    let chroma_samples = 2 * (source[1].width * source[1].height) as u64;
    Ok(FrameQuality {
        psnr: psnr_from_sse(luma + chroma, luma_samples + chroma_samples),
        psnr_y: psnr_from_sse(luma, luma_samples),
        ssim: ssim(&source[0], &coded[0])?,
    })
}

/// The mean quality of a run of pictures.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualitySum {
    sum: [f64; 3],
    frames: usize,
}

impl QualitySum {
    /// Adds one picture.
    pub fn add(&mut self, q: FrameQuality) {
        self.sum[0] += q.psnr;
        self.sum[1] += q.psnr_y;
        self.sum[2] += q.ssim;
        self.frames += 1;
    }

    /// Pictures measured.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The per-picture mean (`None` before the first).
    pub fn mean(&self) -> Option<FrameQuality> {
        let n = self.frames as f64;
        (self.frames > 0).then(|| FrameQuality {
            psnr: self.sum[0] / n,
            psnr_y: self.sum[1] / n,
            ssim: self.sum[2] / n,
        })
    }
}

/// PSNR over all three planes of two packed frames (infinite when identical).
pub fn psnr(a: &YuvFrame, b: &YuvFrame) -> Result<f64> {
    let q = measure(a, planes(b))?;
    Ok(if q.psnr >= 100.0 && a == b { f64::INFINITY } else { q.psnr })
}

/// Mean of per-frame PSNR over two equally long frame sequences, with
/// identical frames counted at 100 dB so the mean stays finite.
pub fn mean_psnr(a: &[YuvFrame], b: &[YuvFrame]) -> Result<f64> {
    if a.len() != b.len() || a.is_empty() {
        return Err(MediaError::Geometry(format!("cannot compare {} frames with {}", a.len(), b.len())));
    }
    let mut sum = QualitySum::default();
    for (x, y) in a.iter().zip(b) {
        sum.add(measure(x, planes(y))?);
    }
    Ok(sum.mean().map_or(0.0, |q| q.psnr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: u8) -> YuvFrame {
        YuvFrame::new(16, 16, vec![v; 256], vec![v; 64], vec![v; 64], 0, 1).unwrap()
    }

    #[test]
    fn psnr_of_known_error() {
        assert!(psnr(&flat(10), &flat(10)).unwrap().is_infinite());
        // Every sample off by 1: MSE 1, PSNR = 20*log10(255) = 48.13 dB.
        assert!((psnr(&flat(10), &flat(11)).unwrap() - 48.1308).abs() < 1e-3);
        let q = measure(&flat(10), planes(&flat(11))).unwrap();
        assert!((q.psnr_y - 48.1308).abs() < 1e-3);
    }

    #[test]
    fn ssim_is_one_for_identical_pictures_and_falls_with_noise() {
        let textured: Vec<u8> = (0..256u32).map(|i| ((i * 37) % 251) as u8).collect();
        let mut noisy = textured.clone();
        for (i, s) in noisy.iter_mut().enumerate() {
            *s = s.wrapping_add(if i % 3 == 0 { 9 } else { 0 });
        }
        fn plane(d: &[u8]) -> Plane<'_> {
            Plane { data: d, stride: 16, width: 16, height: 16 }
        }
        assert!((ssim(&plane(&textured), &plane(&textured)).unwrap() - 1.0).abs() < 1e-12);
        let s = ssim(&plane(&textured), &plane(&noisy)).unwrap();
        assert!(s < 0.99 && s > 0.5, "{s}");
        // Mismatched sizes are refused, not read out of bounds.
        let short = Plane { data: &textured[..100], stride: 16, width: 16, height: 16 };
        assert!(ssim(&short, &plane(&textured)).is_err());
    }
}
