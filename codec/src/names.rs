//! The names the contract uses for codecs, encoders and speed presets, and
//! the question only a build can answer: which encoders it has.
//!
//! How a speed preset and a quality target map onto each encoder's own knobs:
//!
//! | preset     | x264       | openh264 complexity | SVT-AV1 preset | rav1e speed |
//! |------------|------------|---------------------|----------------|-------------|
//! | `veryfast` | `veryfast` | low                 | 10             | 10          |
//! | `fast`     | `fast`     | medium              | 8              | 9           |
//! | `medium`   | `medium`   | high                | 6              | 7           |
//! | `slow`     | `slow`     | high                | 4              | 5           |

use std::fmt;
use std::str::FromStr;

/// Output video codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VideoCodec {
    /// H.264 (x264: High profile; openh264: Main profile, CABAC).
    H264,
    /// AV1 Main profile, 8-bit 4:2:0 (SVT-AV1 or rav1e).
    Av1,
}

impl VideoCodec {
    /// Lower-case name used in rendition names and task subjects.
    pub fn as_str(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Av1 => "av1",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VideoCodec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "avc1" => Ok(VideoCodec::H264),
            "av1" | "av01" => Ok(VideoCodec::Av1),
            other => Err(format!("unknown video codec '{other}': expected h264 or av1")),
        }
    }
}

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

    /// The quality scale of capped quality mode (CRF): x264 0-51, SVT-AV1
    /// 1-63; `None` for encoders without one (bitrate mode only).
    pub fn quality_range(self) -> Option<(u8, u8)> {
        match self {
            EncoderKind::X264 => Some((0, 51)),
            EncoderKind::SvtAv1 => Some((1, 63)),
            EncoderKind::Openh264 | EncoderKind::Rav1e => None,
        }
    }
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

/// Which encoders a build can run: the media crate answers for the running
/// process (its FFmpeg libraries and `TESSERA_DISABLE_ENCODERS`).
pub trait EncoderCatalog {
    /// Whether `kind` can run here.
    fn available(&self, kind: EncoderKind) -> bool;

    /// The encoder a rung of `codec` gets when it names none: the first
    /// available of x264/openh264 or SVT-AV1/rav1e (the ones that win on
    /// quality per bit and speed, see benches/README.md).
    fn default_for(&self, codec: VideoCodec) -> EncoderKind {
        EncoderKind::ALL.into_iter().filter(|e| e.codec() == codec).find(|e| self.available(*e)).unwrap_or(
            match codec {
                VideoCodec::H264 => EncoderKind::Openh264,
                VideoCodec::Av1 => EncoderKind::Rav1e,
            },
        )
    }

    /// Every encoder with whether it can run here, for `--help` and `probe`.
    fn availability(&self) -> Vec<(EncoderKind, bool)> {
        EncoderKind::ALL.into_iter().map(|e| (e, self.available(e))).collect()
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
    fn names_round_trip_and_a_catalog_picks_the_first_it_has() {
        for kind in EncoderKind::ALL {
            assert_eq!(kind.as_str().parse::<EncoderKind>(), Ok(kind));
        }
        assert!("x265".parse::<EncoderKind>().unwrap_err().contains("x264, openh264, svt-av1 or rav1e"));
        struct BuiltInOnly;
        impl EncoderCatalog for BuiltInOnly {
            fn available(&self, kind: EncoderKind) -> bool {
                kind.libavcodec_name().is_none()
            }
        }
        assert_eq!(BuiltInOnly.default_for(VideoCodec::H264), EncoderKind::Openh264);
        assert_eq!(BuiltInOnly.default_for(VideoCodec::Av1), EncoderKind::Rav1e);
        assert_eq!(BuiltInOnly.availability().iter().filter(|(_, has)| *has).count(), 2);
    }
}
