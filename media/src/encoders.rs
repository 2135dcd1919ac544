//! Which video encoders exist, whether this build has them, and how a speed
//! preset and a quality target map onto each one's own knobs.
//!
//! | preset     | x264       | openh264 complexity | SVT-AV1 preset | rav1e speed |
//! |------------|------------|---------------------|----------------|-------------|
//! | `veryfast` | `veryfast` | low                 | 10             | 10          |
//! | `fast`     | `fast`     | medium              | 8              | 9           |
//! | `medium`   | `medium`   | high                | 6              | 7           |
//! | `slow`     | `slow`     | high                | 4              | 5           |

use std::fmt;
use std::str::FromStr;

use crate::encode::VideoCodec;

/// A video encoder a rung can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EncoderKind {
    /// x264 through libavcodec's `libx264` (High profile, CABAC, B-frames).
    X264,
    /// Cisco's openh264 (Main profile with CABAC, no B-frames), built in.
    Openh264,
    /// SVT-AV1 through libavcodec's `libsvtav1`.
    SvtAv1,
    /// rav1e, built in (pure Rust).
    Rav1e,
}

impl EncoderKind {
    /// Every encoder, preferred first within each codec.
    pub const ALL: [EncoderKind; 4] =
        [EncoderKind::X264, EncoderKind::Openh264, EncoderKind::SvtAv1, EncoderKind::Rav1e];

    /// The name rungs use: `x264`, `openh264`, `svt-av1`, `rav1e`.
    pub fn as_str(self) -> &'static str {
        match self {
            EncoderKind::X264 => "x264",
            EncoderKind::Openh264 => "openh264",
            EncoderKind::SvtAv1 => "svt-av1",
            EncoderKind::Rav1e => "rav1e",
        }
    }

    /// The codec it writes.
    pub fn codec(self) -> VideoCodec {
        match self {
            EncoderKind::X264 | EncoderKind::Openh264 => VideoCodec::H264,
            EncoderKind::SvtAv1 | EncoderKind::Rav1e => VideoCodec::Av1,
        }
    }

    /// The libavcodec encoder hosting it (`None`: built into Tessera).
    pub fn libavcodec_name(self) -> Option<&'static str> {
        match self {
            EncoderKind::X264 => Some("libx264"),
            EncoderKind::SvtAv1 => Some("libsvtav1"),
            EncoderKind::Openh264 | EncoderKind::Rav1e => None,
        }
    }

    /// Whether this build can run it: the built-in ones always; the hosted
    /// ones when the FFmpeg libraries this process loaded have them. An
    /// operator can take any out with `TESSERA_DISABLE_ENCODERS` (e.g.
    /// `x264`, where x264's GPL does not suit the deployment).
    pub fn available(self) -> bool {
        if disabled().contains(&self) {
            return false;
        }
        match self.libavcodec_name() {
            None => true,
            Some(name) => crate::av::has_encoder(name),
        }
    }

    /// The encoder a rung of `codec` gets when it names none: the first
    /// available of x264/openh264 or SVT-AV1/rav1e (the ones that win on
    /// quality per bit and speed, see benches/README.md).
    pub fn default_for(codec: VideoCodec) -> EncoderKind {
        Self::ALL.into_iter().filter(|e| e.codec() == codec).find(|e| e.available()).unwrap_or(match codec {
            VideoCodec::H264 => EncoderKind::Openh264,
            VideoCodec::Av1 => EncoderKind::Rav1e,
        })
    }

    /// The quality scale of capped quality mode (CRF): x264 0-51, SVT-AV1
    /// 1-63; `None` for encoders without one (bitrate mode only).
    pub fn quality_range(self) -> Option<(u8, u8)> {
        match self {
            EncoderKind::X264 => Some((0, 51)),
            EncoderKind::SvtAv1 => Some((1, 63)),
            EncoderKind::Openh264 | EncoderKind::Rav1e => None,
        }
    }

    /// Every encoder with whether this build has it, for `--help` and `probe`.
    pub fn availability() -> Vec<(EncoderKind, bool)> {
        Self::ALL.into_iter().map(|e| (e, e.available())).collect()
    }
}

/// The encoders `TESSERA_DISABLE_ENCODERS` (comma-separated names) takes out, read once.
fn disabled() -> &'static [EncoderKind] {
    static DISABLED: std::sync::OnceLock<Vec<EncoderKind>> = std::sync::OnceLock::new();
    DISABLED.get_or_init(|| {
        let names = std::env::var("TESSERA_DISABLE_ENCODERS").unwrap_or_default();
        names.split(',').filter_map(|n| n.trim().parse().ok()).collect()
    })
}

impl fmt::Display for EncoderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EncoderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "x264" | "libx264" => Ok(EncoderKind::X264),
            "openh264" => Ok(EncoderKind::Openh264),
            "svt-av1" | "svtav1" | "libsvtav1" => Ok(EncoderKind::SvtAv1),
            "rav1e" => Ok(EncoderKind::Rav1e),
            other => Err(format!("unknown encoder '{other}': expected x264, openh264, svt-av1 or rav1e")),
        }
    }
}

/// Speed/quality trade-off, mapped onto each encoder's own presets (the
/// table in this module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SpeedPreset {
    /// The fastest useful setting (the default).
    #[default]
    Veryfast,
    /// A little slower, a little better.
    Fast,
    /// Balanced.
    Medium,
    /// Slow, for VOD where CPU is cheaper than bits.
    Slow,
}

impl SpeedPreset {
    /// rav1e speed level (0 slowest .. 10 fastest).
    pub fn rav1e_speed(self) -> u8 {
        match self {
            SpeedPreset::Veryfast => 10,
            SpeedPreset::Fast => 9,
            SpeedPreset::Medium => 7,
            SpeedPreset::Slow => 5,
        }
    }

    /// SVT-AV1 preset (0 slowest .. 12 fastest in SVT-AV1 1.4).
    pub fn svt_av1_preset(self) -> u8 {
        match self {
            SpeedPreset::Veryfast => 10,
            SpeedPreset::Fast => 8,
            SpeedPreset::Medium => 6,
            SpeedPreset::Slow => 4,
        }
    }

    /// x264 preset name.
    pub fn x264_preset(self) -> &'static str {
        self.as_str()
    }

    /// Name as accepted by [`FromStr`].
    pub fn as_str(self) -> &'static str {
        match self {
            SpeedPreset::Veryfast => "veryfast",
            SpeedPreset::Fast => "fast",
            SpeedPreset::Medium => "medium",
            SpeedPreset::Slow => "slow",
        }
    }
}

impl fmt::Display for SpeedPreset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SpeedPreset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "veryfast" => Ok(SpeedPreset::Veryfast),
            "fast" => Ok(SpeedPreset::Fast),
            "medium" => Ok(SpeedPreset::Medium),
            "slow" => Ok(SpeedPreset::Slow),
            other => Err(format!("unknown speed preset '{other}': expected veryfast, fast, medium or slow")),
        }
    }
}

/// Written as its name.
impl serde::Serialize for SpeedPreset {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Read from its name, with [`FromStr`]'s error.
impl<'de> serde::Deserialize<'de> for SpeedPreset {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_presets_read_and_write_their_names() {
        assert_eq!(serde_json::to_string(&SpeedPreset::Medium).unwrap(), "\"medium\"");
        assert_eq!(serde_json::from_str::<SpeedPreset>("\"slow\"").unwrap(), SpeedPreset::Slow);
        let e = serde_json::from_str::<SpeedPreset>("\"turbo\"").unwrap_err().to_string();
        assert!(e.contains("unknown speed preset 'turbo': expected veryfast, fast, medium or slow"), "{e}");
    }

    #[test]
    fn names_round_trip_and_defaults_follow_the_build() {
        for kind in EncoderKind::ALL {
            assert_eq!(kind.as_str().parse::<EncoderKind>(), Ok(kind));
        }
        assert!("x265".parse::<EncoderKind>().unwrap_err().contains("x264, openh264, svt-av1 or rav1e"));
        assert!(EncoderKind::Openh264.available() && EncoderKind::Rav1e.available());
        // Debian's FFmpeg (what CI installs) has both hosted encoders.
        assert_eq!(EncoderKind::default_for(VideoCodec::H264), EncoderKind::X264);
        assert_eq!(EncoderKind::default_for(VideoCodec::Av1), EncoderKind::SvtAv1);
    }
}
