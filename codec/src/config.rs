//! A track's decoder configuration.

use crate::aac::AacConfig;
use crate::av1::Av1Config;
use crate::error::Result;
use crate::h264::AvcConfig;

/// A track's out-of-band decoder configuration: what its sample entry
/// (`avcC`, `av1C`, `esds`) holds and its codec string says. The one type for
/// it, from the encoders to the init segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecoderConfig {
    /// H.264: SPS/PPS for avcC.
    Avc(AvcConfig),
    /// AV1: av1C fields and the sequence header OBU.
    Av1(Av1Config),
    /// AAC: the AudioSpecificConfig for esds.
    Aac(AacConfig),
}

impl DecoderConfig {
    /// RFC 6381 codec string.
    pub fn codec_string(&self) -> Result<String> {
        match self {
            DecoderConfig::Avc(c) => c.codec_string(),
            DecoderConfig::Av1(c) => Ok(c.codec_string()),
            DecoderConfig::Aac(c) => Ok(c.codec_string()),
        }
    }

    /// True for a video codec.
    pub fn is_video(&self) -> bool {
        !matches!(self, DecoderConfig::Aac(_))
    }
}
