//! Downscaling 4:2:0 frames to a rung's size with fast_image_resize (SIMD
//! convolution; each plane resized on its own).

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::error::{MediaError, Result};
use crate::frame::{is_even_size, YuvFrame};

/// Output size for a rung of `target_height` lines from a `src_w` x `src_h`
/// source: aspect ratio kept, both dimensions even, never larger than the source.
pub fn rung_dimensions(src_w: u32, src_h: u32, target_height: u32) -> (u32, u32) {
    let h = target_height.min(src_h).max(2) & !1;
    let w = if src_h == 0 {
        0
    } else {
        let exact = f64::from(src_w) * f64::from(h) / f64::from(src_h);
        ((exact / 2.0).round() as u32 * 2).max(2)
    };
    (w, h)
}

/// A reusable scaler (keeps the resizer's buffers between frames).
pub struct Scaler {
    resizer: Resizer,
    options: ResizeOptions,
}

impl Default for Scaler {
    fn default() -> Self {
        Self::new()
    }
}

impl Scaler {
    /// A Lanczos-3 scaler (Catmull-Rom would be a little faster and softer).
    pub fn new() -> Self {
        Self {
            resizer: Resizer::new(),
            options: ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)),
        }
    }

    /// Scales `frame` to `width` x `height` (even); a same-size request copies.
    pub fn scale(&mut self, frame: &YuvFrame, width: u32, height: u32) -> Result<YuvFrame> {
        frame.validate()?;
        if !is_even_size(width, height) {
            return Err(MediaError::Geometry(format!("cannot scale to {width}x{height}: not an even size")));
        }
        if (width, height) == (frame.width, frame.height) {
            return Ok(frame.clone());
        }
        let (scw, sch) = frame.chroma_size();
        let y = self.plane(&frame.y, frame.width, frame.height, width, height)?;
        let u = self.plane(&frame.u, scw, sch, width / 2, height / 2)?;
        let v = self.plane(&frame.v, scw, sch, width / 2, height / 2)?;
        YuvFrame::new(width, height, y, u, v, frame.pts, frame.duration)
    }

    fn plane(&mut self, src: &[u8], sw: u32, sh: u32, dw: u32, dh: u32) -> Result<Vec<u8>> {
        let src = ImageRef::new(sw, sh, src, PixelType::U8).map_err(|e| MediaError::Geometry(e.to_string()))?;
        let mut dst = Image::new(dw, dh, PixelType::U8);
        self.resizer.resize(&src, &mut dst, &self.options).map_err(|e| MediaError::Geometry(e.to_string()))?;
        Ok(dst.into_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_keep_aspect_and_even_sizes() {
        assert_eq!(rung_dimensions(1920, 1080, 720), (1280, 720));
        assert_eq!(rung_dimensions(1920, 1080, 360), (640, 360));
        assert_eq!(rung_dimensions(1920, 1080, 240), (426, 240));
        assert_eq!(rung_dimensions(320, 180, 720), (320, 180));
        assert_eq!(rung_dimensions(1080, 1920, 360), (202, 360));
    }

    #[test]
    fn scaling_a_flat_frame_keeps_its_value() {
        let (w, h) = (64u32, 36u32);
        let n = (w * h) as usize;
        let frame = YuvFrame::new(w, h, vec![100; n], vec![60; n / 4], vec![200; n / 4], 7, 3).unwrap();
        let out = Scaler::new().scale(&frame, 32, 18).unwrap();
        assert_eq!((out.width, out.height, out.pts, out.duration), (32, 18, 7, 3));
        assert!(out.y.iter().all(|&p| p == 100));
        assert!(out.u.iter().all(|&p| p == 60));
        assert!(out.v.iter().all(|&p| p == 200));
    }
}
