//! AAC audio configuration: the AudioSpecificConfig carried in esds, and the
//! codec string.

use crate::error::{CodecError, Result};

/// An AAC track's decoder configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AacConfig {
    /// AudioSpecificConfig bytes (ISO/IEC 14496-3).
    pub asc: Vec<u8>,
    /// Audio object type (2 = AAC-LC).
    pub object_type: u8,
    /// Sampling rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
}

const SAMPLE_RATES: [u32; 13] =
    [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

impl AacConfig {
    /// Parses the fixed prefix of an AudioSpecificConfig.
    pub fn from_asc(asc: &[u8]) -> Result<Self> {
        if asc.len() < 2 {
            return Err(CodecError::Malformed {
                kind: "esds".into(),
                offset: 0,
                reason: format!("AudioSpecificConfig of {} bytes is too short", asc.len()),
            });
        }
        let object_type = asc[0] >> 3;
        let freq_index = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
        let chan_conf = (asc[1] >> 3) & 0x0f;
        let sample_rate = if freq_index == 15 {
            if asc.len() < 5 {
                return Err(CodecError::Malformed {
                    kind: "esds".into(),
                    offset: 0,
                    reason: "explicit sampling rate is cut short".into(),
                });
            }
            (u32::from(asc[1] & 0x7f) << 17)
                | (u32::from(asc[2]) << 9)
                | (u32::from(asc[3]) << 1)
                | u32::from(asc[4] >> 7)
        } else {
            *SAMPLE_RATES.get(usize::from(freq_index)).ok_or_else(|| CodecError::Malformed {
                kind: "esds".into(),
                offset: 0,
                reason: format!("reserved sampling frequency index {freq_index}"),
            })?
        };
        Ok(Self { asc: asc.to_vec(), object_type, sample_rate, channels: u16::from(chan_conf) })
    }

    /// Codec string, e.g. `mp4a.40.2`.
    pub fn codec_string(&self) -> String {
        format!("mp4a.40.{}", self.object_type)
    }

    /// Index of the sampling rate in the AAC table (15 = explicit).
    pub fn freq_index(&self) -> u8 {
        SAMPLE_RATES.iter().position(|&r| r == self.sample_rate).map_or(15, |i| i as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lc_stereo_44100() {
        let c = AacConfig::from_asc(&[0x12, 0x10]).unwrap();
        assert_eq!((c.object_type, c.sample_rate, c.channels), (2, 44100, 2));
        assert_eq!(c.codec_string(), "mp4a.40.2");
        assert_eq!(c.freq_index(), 4);
    }
}
