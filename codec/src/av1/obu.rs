//! AV1 OBU framing (low-overhead bitstream format, AV1 spec section 5.3).
//!
//! Written by hand: the only need is to split a temporal unit into OBUs by
//! header and leb128 size, which no maintained crate offers on its own.

use crate::error::{CodecError, Result};

/// OBU type of a sequence header.
pub const OBU_SEQUENCE_HEADER: u8 = 1;
/// OBU type of a temporal delimiter (not stored in ISO-BMFF samples).
pub const OBU_TEMPORAL_DELIMITER: u8 = 2;

/// One OBU inside a temporal unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Obu<'a> {
    /// `obu_type`.
    pub kind: u8,
    /// The whole OBU: header, size field and payload.
    pub bytes: &'a [u8],
}

fn read_leb128(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *data.get(i)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Splits a temporal unit whose OBUs all carry a size field.
pub fn split_obus(data: &[u8]) -> Result<Vec<Obu<'_>>> {
    let mut obus = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let header = data[pos];
        let kind = (header >> 3) & 0x0f;
        let has_extension = header & 0x04 != 0;
        let has_size = header & 0x02 != 0;
        if !has_size {
            return Err(CodecError::Encode { codec: "av1", reason: format!("OBU at byte {pos} has no size field") });
        }
        let header_len = 1 + usize::from(has_extension);
        let (size, leb_len) = data
            .get(pos + header_len..)
            .and_then(read_leb128)
            .ok_or_else(|| CodecError::Encode { codec: "av1", reason: format!("bad OBU size at byte {pos}") })?;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| (pos + header_len + leb_len).checked_add(s))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| CodecError::Encode {
                codec: "av1",
                reason: format!("OBU at byte {pos} overruns the packet"),
            })?;
        obus.push(Obu { kind, bytes: &data[pos..end] });
        pos = end;
    }
    Ok(obus)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sized_obus() {
        // temporal delimiter (size 0), then a padding OBU of 2 bytes.
        let data = [0x12, 0x00, 0x7a, 0x02, 0xaa, 0xbb];
        let obus = split_obus(&data).unwrap();
        assert_eq!(obus.len(), 2);
        assert_eq!(obus[0].kind, OBU_TEMPORAL_DELIMITER);
        assert_eq!(obus[1].kind, 15);
        assert_eq!(obus[1].bytes, &data[2..]);
        assert!(split_obus(&[0x7a, 0x05, 0x00]).is_err());
    }
}
