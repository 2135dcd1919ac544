//! The H.264 decoder configuration record (avcC): parameter sets, profile and
//! level, the RFC 6381 codec string, and the 8-bit 4:2:0 check.

use h264_reader::nal::sps::{ChromaFormat, SeqParameterSet};
use h264_reader::nal::{Nal, RefNal};

use super::nal::{nal_type, NAL_PPS, NAL_SPS};
use crate::error::{CodecError, Result};

/// What an avcC box carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvcConfig {
    /// Bytes of each NAL length prefix in samples (1, 2 or 4).
    pub nal_length_size: u8,
    /// Sequence parameter sets (NAL units without start codes).
    pub sps: Vec<Vec<u8>>,
    /// Picture parameter sets (NAL units without start codes).
    pub pps: Vec<Vec<u8>>,
}

/// Facts read from the first SPS.
#[derive(Debug, Clone, PartialEq)]
pub struct SpsInfo {
    /// `profile_idc`.
    pub profile_idc: u8,
    /// Constraint flags byte (profile compatibility).
    pub constraints: u8,
    /// `level_idc`.
    pub level_idc: u8,
    /// Display width after cropping.
    pub width: u32,
    /// Display height after cropping.
    pub height: u32,
    /// Frame rate from the VUI timing info, when present.
    pub fps: Option<f64>,
}

impl AvcConfig {
    /// Builds a configuration from parameter-set NAL units found in a stream
    /// (e.g. an encoder's first access unit).
    pub fn from_parameter_sets<'a>(nals: impl IntoIterator<Item = &'a [u8]>) -> Result<Self> {
        let (mut sps, mut pps) = (Vec::new(), Vec::new());
        for nal in nals {
            match nal_type(nal) {
                NAL_SPS => sps.push(nal.to_vec()),
                NAL_PPS => pps.push(nal.to_vec()),
                _ => {}
            }
        }
        let config = Self { nal_length_size: 4, sps, pps };
        config.sps_info()?;
        if config.pps.is_empty() {
            return Err(CodecError::InvalidH264("no picture parameter set".into()));
        }
        Ok(config)
    }

    /// Reads the configuration out of an mp4-atom avcC box.
    pub fn from_avcc(avcc: &mp4_atom::Avcc) -> Result<Self> {
        let config = Self {
            nal_length_size: avcc.length_size,
            sps: avcc.sequence_parameter_sets.clone(),
            pps: avcc.picture_parameter_sets.clone(),
        };
        if config.pps.is_empty() {
            return Err(CodecError::InvalidH264("avcC has no picture parameter set".into()));
        }
        Ok(config)
    }

    /// Builds the avcC box for this configuration.
    pub fn to_avcc(&self) -> Result<mp4_atom::Avcc> {
        let info = self.sps_info()?;
        let ext = (!matches!(info.profile_idc, 66 | 77 | 88)).then(|| mp4_atom::AvccExt {
            chroma_format: 1,
            bit_depth_luma: 8,
            bit_depth_chroma: 8,
            sequence_parameter_sets_ext: Vec::new(),
        });
        Ok(mp4_atom::Avcc {
            configuration_version: 1,
            avc_profile_indication: info.profile_idc,
            profile_compatibility: info.constraints,
            avc_level_indication: info.level_idc,
            length_size: self.nal_length_size,
            sequence_parameter_sets: self.sps.clone(),
            picture_parameter_sets: self.pps.clone(),
            ext,
        })
    }

    fn parse_first_sps(&self) -> Result<(&[u8], SeqParameterSet)> {
        let sps = self.sps.first().ok_or_else(|| CodecError::InvalidH264("no sequence parameter set".into()))?;
        if sps.len() < 4 {
            return Err(CodecError::InvalidH264(format!("SPS of {} bytes is too short", sps.len())));
        }
        let nal = RefNal::new(sps, &[], true);
        let parsed = SeqParameterSet::from_bits(nal.rbsp_bits())
            .map_err(|e| CodecError::InvalidH264(format!("cannot parse SPS: {e:?}")))?;
        Ok((sps, parsed))
    }

    /// Reads an AVCDecoderConfigurationRecord (the avcC box's body, as
    /// libavformat gives it in extradata).
    pub fn from_record(record: &[u8]) -> Result<Self> {
        let short = || CodecError::InvalidH264(format!("avcC record of {} bytes is cut short", record.len()));
        let mut at = 5usize;
        let nal_length_size = (record.get(4).ok_or_else(short)? & 3) + 1;
        let mut sets = |count_mask: u8| -> Result<Vec<Vec<u8>>> {
            let count = record.get(at).ok_or_else(short)? & count_mask;
            at += 1;
            let mut out = Vec::new();
            for _ in 0..count {
                let len = usize::from(u16::from_be_bytes([
                    *record.get(at).ok_or_else(short)?,
                    *record.get(at + 1).ok_or_else(short)?,
                ]));
                out.push(record.get(at + 2..at + 2 + len).ok_or_else(short)?.to_vec());
                at += 2 + len;
            }
            Ok(out)
        };
        let sps = sets(0x1f)?;
        let pps = sets(0xff)?;
        Ok(Self { nal_length_size, sps, pps })
    }

    /// The AVCDecoderConfigurationRecord (the avcC box's body).
    pub fn to_record(&self) -> Result<Vec<u8>> {
        let first =
            self.sps.first().filter(|s| s.len() >= 4).ok_or_else(|| CodecError::InvalidH264("no SPS".into()))?;
        let too_many = |what: &str| CodecError::InvalidH264(format!("too many or too large {what}"));
        let mut out = vec![1, first[1], first[2], first[3], 0xfc | (self.nal_length_size.clamp(1, 4) - 1)];
        out.push(0xe0 | u8::try_from(self.sps.len()).ok().filter(|n| *n < 32).ok_or_else(|| too_many("SPS"))?);
        for sps in &self.sps {
            out.extend_from_slice(&u16::try_from(sps.len()).map_err(|_| too_many("SPS"))?.to_be_bytes());
            out.extend_from_slice(sps);
        }
        out.push(u8::try_from(self.pps.len()).map_err(|_| too_many("PPS"))?);
        for pps in &self.pps {
            out.extend_from_slice(&u16::try_from(pps.len()).map_err(|_| too_many("PPS"))?.to_be_bytes());
            out.extend_from_slice(pps);
        }
        Ok(out)
    }

    /// Parses the first SPS.
    pub fn sps_info(&self) -> Result<SpsInfo> {
        let (raw, sps) = self.parse_first_sps()?;
        let (width, height) =
            sps.pixel_dimensions().map_err(|e| CodecError::InvalidH264(format!("SPS dimensions: {e:?}")))?;
        Ok(SpsInfo { profile_idc: raw[1], constraints: raw[2], level_idc: raw[3], width, height, fps: sps.fps() })
    }

    /// Rejects anything but 8-bit 4:2:0 progressive video, naming what was found.
    pub fn check_supported(&self) -> Result<()> {
        let (raw, sps) = self.parse_first_sps()?;
        let chroma = match sps.chroma_info.chroma_format {
            ChromaFormat::YUV420 => "4:2:0",
            ChromaFormat::YUV422 => "4:2:2",
            ChromaFormat::YUV444 => "4:4:4",
            ChromaFormat::Monochrome => "4:0:0 (monochrome)",
            ChromaFormat::Invalid(_) => "an invalid chroma format",
        };
        let bit_depth = 8 + sps.chroma_info.bit_depth_luma_minus8;
        if chroma != "4:2:0" || bit_depth != 8 || sps.chroma_info.bit_depth_chroma_minus8 != 0 {
            return Err(CodecError::UnsupportedH264Format {
                profile: profile_name(raw[1]).to_string(),
                chroma,
                bit_depth,
            });
        }
        if !matches!(sps.frame_mbs_flags, h264_reader::nal::sps::FrameMbsFlags::Frames) {
            return Err(CodecError::InvalidH264("interlaced (field-coded) H.264 is not supported".into()));
        }
        Ok(())
    }

    /// The RFC 6381 codec string, `avc1.PPCCLL`.
    pub fn codec_string(&self) -> Result<String> {
        let info = self.sps_info()?;
        Ok(format!("avc1.{:02X}{:02X}{:02X}", info.profile_idc, info.constraints, info.level_idc))
    }
}

/// Human name of an H.264 `profile_idc`.
pub fn profile_name(profile_idc: u8) -> &'static str {
    match profile_idc {
        66 => "Baseline",
        77 => "Main",
        88 => "Extended",
        100 => "High",
        110 => "High 10",
        122 => "High 4:2:2",
        244 => "High 4:4:4 Predictive",
        44 => "CAVLC 4:4:4 Intra",
        _ => "unknown",
    }
}
