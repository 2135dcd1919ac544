//! The encoding ladder: which renditions a job produces. The default ladder
//! follows docs/architecture.md; rungs above the source height are dropped.

use serde::{Deserialize, Serialize};
use tessera_codec::{EncoderCatalog, EncoderKind, RungProbe, SpeedPreset, VideoCodec};

use crate::error::CoreError;

/// One rendition of a ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rung {
    /// Output codec.
    #[serde(with = "codec_name")]
    pub codec: VideoCodec,
    /// Output height in lines; the width follows the source's aspect ratio.
    pub height: u32,
    /// Target bitrate in kbit/s; with `crf`, the most any segment may average.
    pub bitrate_kbps: u32,
    /// The encoder (`x264`, `openh264`, `svt-av1`, `rav1e`); none: the
    /// codec's default in this build, filled in at submission.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "optional_name")]
    pub encoder: Option<EncoderKind>,
    /// Capped quality mode: the encoder's constant rate factor (x264 0-51,
    /// SVT-AV1 1-63), so easy scenes spend fewer bits, with `bitrate_kbps`
    /// as the cap; none: bitrate mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crf: Option<u8>,
    /// Optional frame-rate cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_frame_rate: Option<f64>,
    /// Optional encoder speed preset (veryfast, fast, medium, slow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<SpeedPreset>,
}

impl Rung {
    /// A bitrate-mode rung with nothing else set: the codec's default
    /// encoder, the source's frame rate, the job's speed.
    pub fn new(codec: VideoCodec, height: u32, bitrate_kbps: u32) -> Self {
        Self { codec, height, bitrate_kbps, encoder: None, crf: None, max_frame_rate: None, speed: None }
    }

    /// The encoder the rung runs on: the one it names, else the codec's
    /// default among `encoders` (a submission names it, so workers agree).
    pub fn encoder_kind(&self, encoders: &dyn EncoderCatalog) -> EncoderKind {
        self.encoder.unwrap_or_else(|| encoders.default_for(self.codec))
    }

    /// Rendition name, e.g. `h264-720p`.
    pub fn name(&self) -> String {
        format!("{}-{}p", self.codec, self.height)
    }

    fn validate(&self) -> Result<(), CoreError> {
        let invalid = |reason: &str| CoreError::InvalidRung { rung: self.name(), reason: reason.into() };
        if !(16..=4320).contains(&self.height) || !self.height.is_multiple_of(2) {
            return Err(invalid("height must be even and within 16..=4320"));
        }
        if !(16..=100_000).contains(&self.bitrate_kbps) {
            return Err(invalid("bitrate must be within 16..=100000 kbit/s"));
        }
        if self.max_frame_rate.is_some_and(|f| !(f > 0.0 && f <= 240.0)) {
            return Err(invalid("max_frame_rate must be within (0, 240]"));
        }
        if let Some(encoder) = self.encoder.filter(|e| e.codec() != self.codec) {
            return Err(invalid(&format!("{encoder} encodes {}, not {}", encoder.codec(), self.codec)));
        }
        Ok(())
    }

    /// Names the encoder the rung runs on (the codec's default among
    /// `encoders` when it names none; the media crate's `BuildEncoders` is
    /// this build's) and checks that it is there and that its quality target
    /// suits it.
    pub fn resolve_encoder(&mut self, encoders: &dyn EncoderCatalog) -> Result<(), CoreError> {
        let encoder = self.encoder_kind(encoders);
        let invalid = |reason: String| CoreError::InvalidRung { rung: self.name(), reason };
        if !encoders.available(encoder) {
            let available: Vec<&str> =
                encoders.availability().into_iter().filter(|(_, has)| *has).map(|(e, _)| e.as_str()).collect();
            return Err(invalid(format!(
                "encoder {encoder} is not available here (this build's FFmpeg lacks {}, or \
                 TESSERA_DISABLE_ENCODERS takes it out); available: {}",
                encoder.libavcodec_name().unwrap_or("it"),
                available.join(", ")
            )));
        }
        if let Some(crf) = self.crf {
            match encoder.quality_range() {
                Some((lo, hi)) if (lo..=hi).contains(&crf) => {}
                Some((lo, hi)) => return Err(invalid(format!("crf {crf} is outside {encoder}'s {lo}..={hi}"))),
                None => {
                    return Err(invalid(format!(
                        "{encoder} has no capped quality mode: drop crf, or use {}",
                        if self.codec == VideoCodec::H264 { "x264" } else { "svt-av1" }
                    )))
                }
            }
        }
        self.encoder = Some(encoder);
        Ok(())
    }
}

/// An ordered set of rungs (highest first within each codec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ladder {
    /// The rungs.
    pub rungs: Vec<Rung>,
    /// Per-title: before the job is published, a probe of the upload sets
    /// each rung's bitrate to what the picture needs (never above the
    /// rung's own) and drops rungs that would look no better than the one
    /// below ([`Ladder::fit_to_probe`]). `"ladder": "auto"` is the default
    /// ladder with this set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_title: bool,
}

/// Bits the per-title ladder gives a rung over what x264 spent at the
/// probe's quality: rate control in bitrate mode needs some room.
pub const PER_TITLE_HEADROOM: f64 = 1.2;

/// What AV1 (SVT-AV1) spends against x264 for the same quality, as the
/// default ladder has it (1600/2500, 800/1200, 450/700 kbit/s).
pub const AV1_BITS_PER_H264_BIT: f64 = 0.65;

/// A rung whose next rung down, scaled up to it, has at least this SSIM
/// (luma) against it shows nothing more: the per-title ladder drops it.
pub const INVISIBLE_DETAIL_SSIM: f64 = 0.995;

const DEFAULT: [(u32, u32, Option<u32>); 5] = [
    (1080, 4500, Some(2800)),
    (720, 2500, Some(1600)),
    (480, 1200, Some(800)),
    (360, 700, Some(450)),
    (240, 400, None),
];

impl Ladder {
    /// The default ladder for these codecs (see docs/architecture.md).
    pub fn default_for(codecs: &[VideoCodec]) -> Self {
        let mut rungs = Vec::new();
        for &codec in codecs {
            for &(height, h264, av1) in &DEFAULT {
                let bitrate = match codec {
                    VideoCodec::H264 => Some(h264),
                    VideoCodec::Av1 => av1,
                };
                if let Some(bitrate_kbps) = bitrate {
                    rungs.push(Rung::new(codec, height, bitrate_kbps));
                }
            }
        }
        Self { rungs, per_title: false }
    }

    /// Parses and validates a ladder from JSON (`{"rungs": [...]}`).
    pub fn from_json(text: &str) -> Result<Self, CoreError> {
        let ladder: Ladder = serde_json::from_str(text)?;
        ladder.validate()?;
        Ok(ladder)
    }

    /// Parses and validates a ladder from TOML (`[[rungs]]` tables).
    pub fn from_toml(text: &str) -> Result<Self, CoreError> {
        let ladder: Ladder = toml::from_str(text)?;
        ladder.validate()?;
        Ok(ladder)
    }

    /// Parses a ladder file by its extension: `.toml` is TOML, anything else JSON.
    pub fn from_file_text(file_name: &str, text: &str) -> Result<Self, CoreError> {
        if file_name.to_ascii_lowercase().ends_with(".toml") {
            Self::from_toml(text)
        } else {
            Self::from_json(text)
        }
    }

    /// Checks every rung and that no rendition name repeats.
    pub fn validate(&self) -> Result<(), CoreError> {
        let mut names = std::collections::HashSet::new();
        for rung in &self.rungs {
            rung.validate()?;
            if !names.insert(rung.name()) {
                return Err(CoreError::InvalidRung { rung: rung.name(), reason: "appears twice".into() });
            }
        }
        Ok(())
    }

    /// The per-title ladder: `fitted` (this ladder's rungs for the source,
    /// [`Ladder::for_source`]) with each rung's bitrate set from the probe
    /// (x264's bits at the probe's quality x [`PER_TITLE_HEADROOM`], x
    /// [`AV1_BITS_PER_H264_BIT`] for AV1; at least an eighth of the rung's
    /// own bitrate and never above it), and rungs dropped whose next rung
    /// down shows the same picture ([`INVISIBLE_DETAIL_SSIM`]). The lowest
    /// rung of each codec always stays. Rungs the probe did not measure keep
    /// their bitrate.
    pub fn fit_to_probe(fitted: &[Rung], probe: &[RungProbe]) -> Vec<Rung> {
        let mut out: Vec<Rung> = Vec::new();
        for rung in fitted {
            let Some(measured) = probe.iter().find(|p| p.height == rung.height) else {
                out.push(rung.clone());
                continue;
            };
            let lowest = !fitted.iter().any(|r| r.codec == rung.codec && r.height < rung.height);
            let lower_probed = probe.iter().any(|p| {
                p.height < rung.height && fitted.iter().any(|r| r.codec == rung.codec && r.height == p.height)
            });
            if !lowest && lower_probed && measured.ssim_of_rung_below.is_some_and(|s| s >= INVISIBLE_DETAIL_SSIM) {
                continue;
            }
            let factor = match rung.codec {
                VideoCodec::H264 => 1.0,
                VideoCodec::Av1 => AV1_BITS_PER_H264_BIT,
            };
            let need = measured.kbps_at_crf * PER_TITLE_HEADROOM * factor;
            let floor = (rung.bitrate_kbps / 8).max(16);
            let kbps = ((need / 10.0).ceil() * 10.0).clamp(f64::from(floor), f64::from(rung.bitrate_kbps));
            out.push(Rung { bitrate_kbps: kbps as u32, ..rung.clone() });
        }
        out
    }

    /// Names every rung's encoder ([`Rung::resolve_encoder`]).
    pub fn resolve_encoders(&mut self, encoders: &dyn EncoderCatalog) -> Result<(), CoreError> {
        self.rungs.iter_mut().try_for_each(|rung| rung.resolve_encoder(encoders))
    }

    /// The rungs to encode for a source of `source_height` lines: rungs above
    /// it are dropped; a codec left with none keeps its lowest rung, brought
    /// down to the source height.
    pub fn for_source(&self, source_height: u32) -> Result<Vec<Rung>, CoreError> {
        let source_height = source_height & !1;
        let mut kept: Vec<Rung> = Vec::new();
        // Codecs in order of first appearance (rungs of different codecs may interleave).
        let mut codecs: Vec<VideoCodec> = Vec::new();
        for rung in &self.rungs {
            if !codecs.contains(&rung.codec) {
                codecs.push(rung.codec);
            }
        }
        for codec in codecs {
            let of_codec = self.rungs.iter().filter(|r| r.codec == codec);
            let fitting: Vec<Rung> = of_codec.clone().filter(|r| r.height <= source_height).cloned().collect();
            if fitting.is_empty() {
                if let Some(lowest) = of_codec.min_by_key(|r| r.height) {
                    kept.push(Rung { height: source_height, ..lowest.clone() });
                }
            } else {
                kept.extend(fitting);
            }
        }
        if kept.is_empty() {
            return Err(CoreError::Empty("any codec".into()));
        }
        Ok(kept)
    }
}

mod codec_name {
    use serde::{Deserialize, Deserializer, Serializer};
    use tessera_codec::VideoCodec;

    pub fn serialize<S: Serializer>(codec: &VideoCodec, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(codec.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VideoCodec, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// An optional value (the encoder) as its name, through its
/// `Display` and `FromStr`.
mod optional_name {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        Option::<String>::deserialize(d)?.map(|s| s.parse().map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_ladder_matches_the_architecture_table() {
        let l = Ladder::default_for(&[VideoCodec::H264, VideoCodec::Av1]);
        let names: Vec<String> = l.rungs.iter().map(Rung::name).collect();
        assert_eq!(
            names,
            [
                "h264-1080p",
                "h264-720p",
                "h264-480p",
                "h264-360p",
                "h264-240p",
                "av1-1080p",
                "av1-720p",
                "av1-480p",
                "av1-360p"
            ]
        );
        assert_eq!(l.rungs[1].bitrate_kbps, 2500);
        assert_eq!(l.rungs[6].bitrate_kbps, 1600);
    }

    #[test]
    fn rungs_above_the_source_are_dropped() {
        let l = Ladder::default_for(&[VideoCodec::H264]);
        let kept: Vec<u32> = l.for_source(720).unwrap().iter().map(|r| r.height).collect();
        assert_eq!(kept, [720, 480, 360, 240]);
        // A 180p source keeps one rung per codec at its own height.
        let l = Ladder::default_for(&[VideoCodec::H264, VideoCodec::Av1]);
        let kept: Vec<String> = l.for_source(180).unwrap().iter().map(Rung::name).collect();
        assert_eq!(kept, ["h264-180p", "av1-180p"]);
        // Interleaved codecs: each rung kept once.
        let interleaved = Ladder::from_json(
            r#"{"rungs":[{"codec":"h264","height":720,"bitrate_kbps":2500},{"codec":"av1","height":360,"bitrate_kbps":450},{"codec":"h264","height":360,"bitrate_kbps":700}]}"#,
        )
        .unwrap();
        let kept: Vec<String> = interleaved.for_source(720).unwrap().iter().map(Rung::name).collect();
        assert_eq!(kept, ["h264-720p", "h264-360p", "av1-360p"]);
    }

    #[test]
    fn ladder_json_round_trips_and_rejects_typos() {
        let l =
            Ladder::from_json(r#"{"rungs":[{"codec":"av1","height":360,"bitrate_kbps":450,"speed":"fast"}]}"#).unwrap();
        assert_eq!(l.rungs[0].speed, Some(SpeedPreset::Fast));
        assert_eq!(Ladder::from_json(&serde_json::to_string(&l).unwrap()).unwrap(), l);
        let err = Ladder::from_json(r#"{"rungs":[{"codec":"h264","height":360,"bitrate":450}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `bitrate`"), "{err}");
        let err = Ladder::from_json(r#"{"rungs":[{"codec":"vp9","height":360,"bitrate_kbps":450}]}"#).unwrap_err();
        assert!(err.to_string().contains("unknown video codec 'vp9'"), "{err}");
        let err = Ladder::from_json(r#"{"rungs":[{"codec":"h264","height":361,"bitrate_kbps":450}]}"#).unwrap_err();
        assert!(err.to_string().contains("h264-361p"), "{err}");
    }

    /// A build with every encoder.
    struct AllEncoders;

    impl EncoderCatalog for AllEncoders {
        fn available(&self, _: EncoderKind) -> bool {
            true
        }
    }

    #[test]
    fn encoders_resolve_to_the_build_s_default_and_are_checked() {
        let mut l = Ladder::from_json(
            r#"{"rungs":[{"codec":"h264","height":360,"bitrate_kbps":700,"crf":23},{"codec":"av1","height":360,"bitrate_kbps":450,"encoder":"rav1e"}]}"#,
        )
        .unwrap();
        l.resolve_encoders(&AllEncoders).unwrap();
        assert_eq!(l.rungs[0].encoder, Some(EncoderKind::X264));
        assert_eq!(l.rungs[1].encoder, Some(EncoderKind::Rav1e));
        let err =
            Ladder::from_json(r#"{"rungs":[{"codec":"h264","height":360,"bitrate_kbps":700,"encoder":"rav1e"}]}"#)
                .unwrap_err();
        assert!(err.to_string().contains("rav1e encodes av1, not h264"), "{err}");
        let mut l = Ladder::from_json(
            r#"{"rungs":[{"codec":"av1","height":360,"bitrate_kbps":450,"encoder":"rav1e","crf":30}]}"#,
        )
        .unwrap();
        let err = l.resolve_encoders(&AllEncoders).unwrap_err();
        assert!(err.to_string().contains("rav1e has no capped quality mode: drop crf, or use svt-av1"), "{err}");
        let mut l = Ladder::from_json(
            r#"{"rungs":[{"codec":"h264","height":360,"bitrate_kbps":450,"encoder":"x264","crf":60}]}"#,
        )
        .unwrap();
        let err = l.resolve_encoders(&AllEncoders).unwrap_err();
        assert!(err.to_string().contains("crf 60 is outside x264's 0..=51"), "{err}");
    }

    #[test]
    fn per_title_fits_bitrates_to_the_probe_and_drops_invisible_rungs() {
        let ladder = Ladder::default_for(&[VideoCodec::H264, VideoCodec::Av1]);
        let fitted = ladder.for_source(720).unwrap();
        let probe =
            |height, kbps_at_crf, below: Option<f64>| RungProbe { height, kbps_at_crf, ssim_of_rung_below: below };
        // A cartoon: few bits, and 480p scaled up looks like 720p.
        let flat = [
            probe(720, 300.0, Some(0.997)),
            probe(480, 200.0, Some(0.99)),
            probe(360, 120.0, Some(0.98)),
            probe(240, 40.0, None),
        ];
        let rungs = Ladder::fit_to_probe(&fitted, &flat);
        let names: Vec<String> = rungs.iter().map(|r| format!("{} {}", r.name(), r.bitrate_kbps)).collect();
        assert_eq!(
            names,
            ["h264-480p 240", "h264-360p 150", "h264-240p 50", "av1-480p 160", "av1-360p 100"],
            "720p dropped, bitrates from the probe"
        );
        // Sports: more bits than the fixed ladder gives, and every rung shows more: the fixed ladder stays.
        let busy = [
            probe(720, 5000.0, Some(0.90)),
            probe(480, 2500.0, Some(0.92)),
            probe(360, 1500.0, Some(0.93)),
            probe(240, 900.0, None),
        ];
        assert_eq!(Ladder::fit_to_probe(&fitted, &busy), fitted);
    }

    #[test]
    fn ladder_toml_parses_like_json() {
        let text = "[[rungs]]\ncodec = \"av1\"\nheight = 360\nbitrate_kbps = 450\nspeed = \"fast\"\n";
        let l = Ladder::from_file_text("ladder.toml", text).unwrap();
        assert_eq!(
            l,
            Ladder::from_json(r#"{"rungs":[{"codec":"av1","height":360,"bitrate_kbps":450,"speed":"fast"}]}"#).unwrap()
        );
        let err =
            Ladder::from_file_text("l.TOML", "[[rungs]]\ncodec = \"h264\"\nheight = 360\nbitrate = 1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `bitrate`"), "{err}");
    }
}
