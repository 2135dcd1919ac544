//! NAL unit framing: the length-prefixed form MP4 stores and the Annex B
//! start-code form decoders and encoders speak.
//!
//! Written by hand: it is a dozen lines of framing, and h264-reader's
//! push-parser API is built for streaming parsing rather than re-framing.

use crate::error::{CodecError, Result};

/// NAL unit type of an IDR slice.
pub const NAL_IDR: u8 = 5;
/// NAL unit type of a sequence parameter set.
pub const NAL_SPS: u8 = 7;
/// NAL unit type of a picture parameter set.
pub const NAL_PPS: u8 = 8;
/// NAL unit type of an access unit delimiter.
pub const NAL_AUD: u8 = 9;

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// The `nal_unit_type` of a NAL unit (without start code or length).
pub fn nal_type(nal: &[u8]) -> u8 {
    nal.first().map_or(0, |b| b & 0x1f)
}

/// Splits a length-prefixed access unit into its NAL units.
pub fn split_length_prefixed(sample: &[u8], length_size: u8) -> Result<Vec<&[u8]>> {
    let n = usize::from(length_size);
    if !(1..=4).contains(&n) {
        return Err(CodecError::InvalidH264(format!("NAL length size {length_size} is not 1..4")));
    }
    let mut nals = Vec::new();
    let mut pos = 0;
    while pos < sample.len() {
        let Some(len_bytes) = sample.get(pos..pos + n) else {
            return Err(CodecError::InvalidH264(format!(
                "NAL length field at byte {pos} runs past the {}-byte sample",
                sample.len()
            )));
        };
        let len = len_bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        pos += n;
        let Some(nal) = sample.get(pos..pos + len) else {
            return Err(CodecError::InvalidH264(format!(
                "NAL unit of {len} bytes at byte {pos} runs past the {}-byte sample",
                sample.len()
            )));
        };
        if !nal.is_empty() {
            nals.push(nal);
        }
        pos += len;
    }
    Ok(nals)
}

/// Appends NAL units to `out` in Annex B form (4-byte start codes).
pub fn write_annexb<'a>(nals: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for nal in nals {
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(nal);
    }
}

/// Appends NAL units to `out` with 4-byte big-endian length prefixes.
pub fn write_length_prefixed<'a>(nals: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for nal in nals {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
}

/// Splits an Annex B byte stream into NAL units (start codes removed).
pub fn split_annexb(stream: &[u8]) -> Vec<&[u8]> {
    let mut nals = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            if let Some(s) = start {
                // A 4-byte start code leaves a zero byte at the end of the previous NAL.
                let mut end = i;
                while end > s && stream[end - 1] == 0 {
                    end -= 1;
                }
                nals.push(&stream[s..end]);
            }
            i += 3;
            start = Some(i);
        } else {
            i += 1;
        }
    }
    if let Some(s) = start {
        if s < stream.len() {
            nals.push(&stream[s..]);
        }
    }
    nals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annexb_and_length_prefixed_round_trip() {
        let nals: [&[u8]; 3] = [&[0x67, 1, 2], &[0x68, 3], &[0x65, 0, 0, 3, 1, 9]];
        let mut annexb = Vec::new();
        write_annexb(nals, &mut annexb);
        assert_eq!(split_annexb(&annexb), nals.to_vec());
        let mut prefixed = Vec::new();
        write_length_prefixed(nals, &mut prefixed);
        assert_eq!(split_length_prefixed(&prefixed, 4).unwrap(), nals.to_vec());
        assert_eq!(nal_type(nals[2]), NAL_IDR);
    }

    #[test]
    fn short_sample_is_an_error() {
        let err = split_length_prefixed(&[0, 0, 0, 9, 0x65], 4).unwrap_err();
        assert!(err.to_string().contains("runs past"), "{err}");
    }
}
