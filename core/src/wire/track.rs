//! A rendition's decoder configuration in its wire form.

use serde::{Deserialize, Serialize};
use tessera_codec::aac::AacConfig;
use tessera_codec::av1::Av1Config;
use tessera_codec::h264::AvcConfig;
use tessera_codec::DecoderConfig;

use crate::error::CoreError;

/// A rendition's decoder configuration ([`DecoderConfig`]) in its wire form,
/// as it travels in events (base64 bytes), from which the packager writes
/// `init.mp4`; thumbnails' JPEG pictures have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TrackConfig {
    /// H.264: the parameter sets of avcC (4-byte NAL lengths).
    Avc {
        /// SPS and PPS NAL units.
        #[serde(with = "super::base64_bytes::list")]
        parameter_sets: Vec<Vec<u8>>,
    },
    /// AV1: av1C fields and the sequence header OBU.
    Av1 {
        /// seq_profile.
        profile: u8,
        /// seq_level_idx_0.
        level_idx: u8,
        /// seq_tier_0.
        high_tier: bool,
        /// The sequence header OBU.
        #[serde(with = "super::base64_bytes")]
        sequence_header: Vec<u8>,
    },
    /// JPEG pictures (thumbnails): nothing to configure.
    Jpeg,
    /// AAC: the AudioSpecificConfig.
    Aac {
        /// AudioSpecificConfig bytes.
        #[serde(with = "super::base64_bytes")]
        asc: Vec<u8>,
        /// Channel count as the source's sample entry declares it.
        channels: u16,
    },
}

impl TrackConfig {
    /// The wire form of a decoder configuration.
    pub fn from_decoder(config: &DecoderConfig) -> Self {
        match config {
            DecoderConfig::Avc(c) => TrackConfig::Avc { parameter_sets: c.sps.iter().chain(&c.pps).cloned().collect() },
            DecoderConfig::Av1(c) => TrackConfig::Av1 {
                profile: c.profile,
                level_idx: c.level_idx,
                high_tier: c.high_tier,
                sequence_header: c.sequence_header.clone(),
            },
            DecoderConfig::Aac(c) => TrackConfig::Aac { asc: c.asc.clone(), channels: c.channels },
        }
    }

    /// The decoder configuration it carries (none for JPEG pictures).
    pub fn decoder_config(&self) -> Result<DecoderConfig, CoreError> {
        Ok(match self {
            TrackConfig::Avc { parameter_sets } => {
                DecoderConfig::Avc(AvcConfig::from_parameter_sets(parameter_sets.iter().map(Vec::as_slice))?)
            }
            TrackConfig::Av1 { profile, level_idx, high_tier, sequence_header } => DecoderConfig::Av1(Av1Config {
                profile: *profile,
                level_idx: *level_idx,
                high_tier: *high_tier,
                sequence_header: sequence_header.clone(),
            }),
            TrackConfig::Aac { asc, channels } => {
                let mut config = AacConfig::from_asc(asc)?;
                config.channels = *channels;
                DecoderConfig::Aac(config)
            }
            TrackConfig::Jpeg => {
                return Err(CoreError::InvalidValue("JPEG pictures have no decoder configuration".into()))
            }
        })
    }
}
