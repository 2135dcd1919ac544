//! The AV1 codec configuration (av1C), the level a rendition needs, and the
//! RFC 6381-style codec string `av01.P.LLT.DD`.

use crate::error::{CodecError, Result};

/// What av1C carries for our 8-bit 4:2:0 Main-profile output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Av1Config {
    /// `seq_profile` (0 = Main).
    pub profile: u8,
    /// `seq_level_idx[0]` (e.g. 4 = level 3.0, 8 = level 4.0, 31 = unconstrained).
    pub level_idx: u8,
    /// `seq_tier[0]` (false = Main tier).
    pub high_tier: bool,
    /// The sequence header OBU (configOBUs).
    pub sequence_header: Vec<u8>,
}

impl Av1Config {
    /// The av1C box.
    pub fn to_av1c(&self) -> mp4_atom::Av1c {
        mp4_atom::Av1c {
            seq_profile: self.profile,
            seq_level_idx_0: self.level_idx,
            seq_tier_0: self.high_tier,
            high_bitdepth: false,
            twelve_bit: false,
            monochrome: false,
            chroma_subsampling_x: true,
            chroma_subsampling_y: true,
            chroma_sample_position: 0,
            initial_presentation_delay: None,
            config_obus: self.sequence_header.clone(),
        }
    }

    /// The configuration of a stream from its sequence header OBU (header,
    /// size field and payload): profile, and level and tier of operating point 0.
    pub fn from_sequence_header(obu: &[u8]) -> Result<Self> {
        let bad = |reason: &str| CodecError::Encode { codec: "av1", reason: format!("sequence header: {reason}") };
        let header = *obu.first().ok_or_else(|| bad("empty"))?;
        let start = 1 + usize::from(header & 0x04 != 0);
        let mut size_len = 0;
        if header & 0x02 != 0 {
            size_len = obu
                .get(start..)
                .unwrap_or_default()
                .iter()
                .position(|b| b & 0x80 == 0)
                .ok_or_else(|| bad("bad size"))?
                + 1;
        }
        let mut bits = BitReader { data: obu.get(start + size_len..).unwrap_or_default(), pos: 0 };
        let mut read = |n: u32| bits.read(n).ok_or_else(|| bad("truncated"));
        let profile = read(3)? as u8;
        let _still_picture = read(1)?;
        let (level_idx, high_tier) = if read(1)? == 1 {
            (read(5)? as u8, false)
        } else {
            if read(1)? == 1 {
                // timing_info(): two 32-bit fields, then equal_picture_interval and its uvlc.
                read(32)?;
                read(32)?;
                if read(1)? == 1 {
                    let mut zeros = 0;
                    while read(1)? == 0 {
                        zeros += 1;
                        if zeros >= 32 {
                            return Err(bad("bad uvlc"));
                        }
                    }
                    read(zeros)?;
                }
                // decoder_model_info(): 5 + 32 + 5 + 5 bits.
                if read(1)? == 1 {
                    read(5)?;
                    read(32)?;
                    read(10)?;
                }
            }
            let _initial_display_delay = read(1)?;
            let _operating_points = read(5)?;
            let _idc = read(12)?;
            let level = read(5)? as u8;
            let tier = level > 7 && read(1)? == 1;
            (level, tier)
        };
        Ok(Self { profile, level_idx, high_tier, sequence_header: obu.to_vec() })
    }

    /// Codec string, e.g. `av01.0.04M.08`.
    pub fn codec_string(&self) -> String {
        format!("av01.{}.{:02}{}.08", self.profile, self.level_idx, if self.high_tier { 'H' } else { 'M' })
    }
}

/// Reads big-endian bit fields (AV1's `f(n)`).
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn read(&mut self, n: u32) -> Option<u64> {
        let mut value = 0u64;
        for _ in 0..n {
            let byte = *self.data.get(self.pos / 8)?;
            value = (value << 1) | u64::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Some(value)
    }
}

/// (seq_level_idx, max picture size, max width, max height, max display rate in samples/s), AV1 Annex A.3.
const LEVELS: [(u8, u64, u32, u32, u64); 11] = [
    (0, 147_456, 2048, 1152, 4_423_680),
    (1, 278_784, 2816, 1584, 8_363_520),
    (4, 665_856, 4352, 2448, 19_975_680),
    (5, 1_065_024, 5504, 3096, 31_950_720),
    (8, 2_359_296, 6144, 3456, 70_778_880),
    (9, 2_359_296, 6144, 3456, 141_557_760),
    (12, 8_912_896, 8192, 4352, 267_386_880),
    (13, 8_912_896, 8192, 4352, 534_773_760),
    (14, 8_912_896, 8192, 4352, 1_069_547_520),
    (15, 8_912_896, 8192, 4352, 1_069_547_520),
    (16, 35_651_584, 16384, 8704, 1_069_547_520),
];

/// The lowest AV1 level whose picture-size and display-rate limits admit
/// this size and frame rate; 31 (unconstrained) beyond level 6.0.
pub fn level_for(width: u32, height: u32, frame_rate: f64) -> u8 {
    let pic = u64::from(width) * u64::from(height);
    let rate = (pic as f64 * frame_rate).ceil() as u64;
    LEVELS
        .iter()
        .find(|&&(_, max_pic, max_w, max_h, max_rate)| {
            pic <= max_pic && width <= max_w && height <= max_h && rate <= max_rate
        })
        .map_or(31, |&(idx, ..)| idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_annex_a() {
        assert_eq!(level_for(320, 180, 30.0), 0);
        assert_eq!(level_for(640, 360, 30.0), 1);
        assert_eq!(level_for(1280, 720, 30.0), 5);
        assert_eq!(level_for(1920, 1080, 30.0), 8);
        assert_eq!(level_for(1920, 1080, 60.0), 9);
    }

    #[test]
    fn codec_string_has_level_and_tier() {
        let c = Av1Config { profile: 0, level_idx: 4, high_tier: false, sequence_header: vec![] };
        assert_eq!(c.codec_string(), "av01.0.04M.08");
    }
}
