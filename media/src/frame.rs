//! Raw decoded pictures: 8-bit planar YUV 4:2:0 with tightly packed planes.

use crate::error::{MediaError, Result};

/// One 8-bit 4:2:0 picture with its presentation time.
#[derive(Clone, PartialEq, Eq)]
pub struct YuvFrame {
    /// Luma width in pixels (even).
    pub width: u32,
    /// Luma height in pixels (even).
    pub height: u32,
    /// Luma plane, `width * height` bytes.
    pub y: Vec<u8>,
    /// Cb plane, `width/2 * height/2` bytes.
    pub u: Vec<u8>,
    /// Cr plane, `width/2 * height/2` bytes.
    pub v: Vec<u8>,
    /// Presentation timestamp in the track timescale.
    pub pts: i64,
    /// Display duration in the track timescale.
    pub duration: u32,
    /// Closed captions shown with this picture: ATSC A/53 `cc_data`
    /// triplets (CEA-608/708), as the source's SEI carried them.
    pub captions: Vec<u8>,
}

impl std::fmt::Debug for YuvFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "YuvFrame({}x{} pts={} dur={})", self.width, self.height, self.pts, self.duration)
    }
}

/// True when both dimensions are non-zero and even, as 4:2:0 requires.
pub fn is_even_size(width: u32, height: u32) -> bool {
    width > 0 && height > 0 && width.is_multiple_of(2) && height.is_multiple_of(2)
}

impl YuvFrame {
    /// Builds a frame from packed planes, checking their sizes.
    pub fn new(width: u32, height: u32, y: Vec<u8>, u: Vec<u8>, v: Vec<u8>, pts: i64, duration: u32) -> Result<Self> {
        let frame = Self { width, height, y, u, v, pts, duration, captions: Vec::new() };
        frame.validate()?;
        Ok(frame)
    }

    /// Copies a frame out of strided planes (as decoders hand them out).
    pub fn from_strided(
        width: u32,
        height: u32,
        planes: [&[u8]; 3],
        strides: [usize; 3],
        pts: i64,
        duration: u32,
    ) -> Result<Self> {
        let (w, h) = (width as usize, height as usize);
        let copy = |plane: &[u8], stride: usize, pw: usize, ph: usize| -> Result<Vec<u8>> {
            if stride < pw || plane.len() < stride * (ph.saturating_sub(1)) + pw {
                return Err(MediaError::Geometry(format!(
                    "plane of {} bytes with stride {stride} cannot hold {pw}x{ph}",
                    plane.len()
                )));
            }
            let mut out = Vec::with_capacity(pw * ph);
            for row in 0..ph {
                out.extend_from_slice(&plane[row * stride..row * stride + pw]);
            }
            Ok(out)
        };
        let y = copy(planes[0], strides[0], w, h)?;
        let u = copy(planes[1], strides[1], w / 2, h / 2)?;
        let v = copy(planes[2], strides[2], w / 2, h / 2)?;
        Self::new(width, height, y, u, v, pts, duration)
    }

    /// Width and height of the chroma planes.
    pub fn chroma_size(&self) -> (u32, u32) {
        (self.width / 2, self.height / 2)
    }

    /// Checks that the dimensions are even and the planes have the right sizes.
    pub fn validate(&self) -> Result<()> {
        if !is_even_size(self.width, self.height) {
            return Err(MediaError::Geometry(format!("{}x{} is not a non-zero even size", self.width, self.height)));
        }
        let luma = self.width as usize * self.height as usize;
        if self.y.len() != luma || self.u.len() != luma / 4 || self.v.len() != luma / 4 {
            return Err(MediaError::Geometry(format!(
                "planes of {}/{}/{} bytes do not match {}x{}",
                self.y.len(),
                self.u.len(),
                self.v.len(),
                self.width,
                self.height
            )));
        }
        Ok(())
    }
}
