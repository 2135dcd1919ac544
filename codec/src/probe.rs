//! What the per-title probe (the media crate's `per_title`) found at each
//! rung height: the figures a per-title ladder is fitted to.

use serde::{Deserialize, Serialize};

/// What the probe found at one rung height.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungProbe {
    /// The rung's nominal height (its short side).
    pub height: u32,
    /// kbit/s x264 spends at the probe's CRF, mean over the samples.
    pub kbps_at_crf: f64,
    /// SSIM of luma of the next lower rung's frames scaled up to this rung's
    /// size against this rung's frames (mean over the samples); `None` for the lowest.
    pub ssim_of_rung_below: Option<f64>,
}
