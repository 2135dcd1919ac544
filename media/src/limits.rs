//! Configurable guards on what an input may contain, so one oversized upload
//! cannot exhaust a worker.

use crate::error::{MediaError, Result};

/// Upper bounds checked while demuxing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Largest accepted coded width in pixels.
    pub max_width: u32,
    /// Largest accepted coded height in pixels.
    pub max_height: u32,
    /// Largest accepted number of video frames.
    pub max_frames: u64,
    /// Longest accepted duration in seconds.
    pub max_duration_secs: u64,
}

impl Default for Limits {
    /// 8K, one million frames, six hours.
    fn default() -> Self {
        Self { max_width: 7680, max_height: 4320, max_frames: 1_000_000, max_duration_secs: 6 * 3600 }
    }
}

impl Limits {
    /// Checks one measured value against its limit.
    pub(crate) fn check(what: &'static str, value: u64, limit: u64) -> Result<()> {
        if value > limit {
            return Err(MediaError::LimitExceeded { what, value, limit });
        }
        Ok(())
    }
}
