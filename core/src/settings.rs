//! Encoding settings as checked types, from the API and the CLI through the
//! submission and channel records to the segmenter and the workers: a value
//! is checked once, where it enters (a 400 naming the field, a clap error),
//! and is then carried typed, never parsed again.
//!
//! The speed preset is [`tessera_codec::SpeedPreset`] and the worker class
//! [`crate::wire::WorkerClass`]; both read and write their names with serde
//! and `FromStr`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::CoreError;

/// The bounds and default of a segment duration where it is used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationBounds {
    /// Shortest, in seconds.
    pub min: f64,
    /// Longest, in seconds.
    pub max: f64,
    /// When a request gives none.
    pub default: f64,
}

/// A target segment duration, within [`SegmentDuration::VOD`] or
/// [`SegmentDuration::LIVE`] bounds. Serialized as its seconds.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct SegmentDuration(f64);

impl SegmentDuration {
    /// On demand: 1-30 s, default 4 s.
    pub const VOD: DurationBounds = DurationBounds { min: 1.0, max: 30.0, default: 4.0 };
    /// Live: 1-10 s (a live playlist's latency is a few segments), default 2 s.
    pub const LIVE: DurationBounds = DurationBounds { min: 1.0, max: 10.0, default: 2.0 };

    /// `secs` when it is within `bounds`.
    pub fn within(secs: f64, bounds: DurationBounds) -> Result<Self, CoreError> {
        if secs.is_finite() && (bounds.min..=bounds.max).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(CoreError::InvalidValue(format!(
                "a segment duration must be within {}-{} seconds, not {secs}",
                bounds.min, bounds.max
            )))
        }
    }

    /// An on-demand job's segment duration: `secs`, or the default.
    pub fn vod(secs: Option<f64>) -> Result<Self, CoreError> {
        Self::within(secs.unwrap_or(Self::VOD.default), Self::VOD)
    }

    /// A live channel's segment duration: `secs`, or the default.
    pub fn live(secs: Option<f64>) -> Result<Self, CoreError> {
        Self::within(secs.unwrap_or(Self::LIVE.default), Self::LIVE)
    }

    /// Seconds.
    pub fn secs(self) -> f64 {
        self.0
    }

    /// As a [`Duration`].
    pub fn duration(self) -> Duration {
        // Finite and positive by construction.
        Duration::from_secs_f64(self.0)
    }
}

impl Default for SegmentDuration {
    /// The on-demand default.
    fn default() -> Self {
        Self(Self::VOD.default)
    }
}

/// Records written earlier are read with the widest bounds (VOD's).
impl TryFrom<f64> for SegmentDuration {
    type Error = CoreError;
    fn try_from(secs: f64) -> Result<Self, CoreError> {
        Self::within(secs, Self::VOD)
    }
}

impl From<SegmentDuration> for f64 {
    fn from(d: SegmentDuration) -> f64 {
        d.0
    }
}

/// Seconds, within VOD bounds (the CLI's `--segment-duration`).
impl FromStr for SegmentDuration {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        let secs: f64 =
            s.trim().parse().map_err(|_| CoreError::InvalidValue(format!("'{s}' is not a number of seconds")))?;
        Self::within(secs, Self::VOD)
    }
}

impl fmt::Display for SegmentDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} s", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_durations_keep_to_their_bounds() {
        assert_eq!(SegmentDuration::vod(None).unwrap().secs(), 4.0);
        assert_eq!(SegmentDuration::live(None).unwrap().secs(), 2.0);
        assert_eq!(SegmentDuration::vod(Some(30.0)).unwrap().duration(), Duration::from_secs(30));
        assert_eq!(SegmentDuration::live(Some(1.0)).unwrap().secs(), 1.0);
        for refused in [0.5, 31.0, f64::NAN, f64::INFINITY, -2.0] {
            let e = SegmentDuration::vod(Some(refused)).unwrap_err().to_string();
            assert!(e.contains("within 1-30 seconds"), "{refused}: {e}");
        }
        let e = SegmentDuration::live(Some(12.0)).unwrap_err().to_string();
        assert_eq!(e, "a segment duration must be within 1-10 seconds, not 12");
    }

    #[test]
    fn segment_durations_parse_and_serialize_as_seconds() {
        assert_eq!("2.5".parse::<SegmentDuration>().unwrap().secs(), 2.5);
        assert!("two".parse::<SegmentDuration>().unwrap_err().to_string().contains("'two' is not a number"));
        assert!("0.1".parse::<SegmentDuration>().unwrap_err().to_string().contains("within 1-30"));
        let d = SegmentDuration::vod(Some(6.0)).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "6.0");
        assert_eq!(serde_json::from_str::<SegmentDuration>("6").unwrap(), d);
        assert!(serde_json::from_str::<SegmentDuration>("0").is_err());
    }
}
