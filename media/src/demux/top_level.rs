//! Walking the top-level boxes of a file without reading media data: finds
//! moov wherever it is (start or end) and checks every box fits the file.

use std::io::{Read, Seek, SeekFrom};

use crate::error::{FirstBytes, MediaError, Result};

/// Box types that may appear at the top level of an MP4/MOV/3GP file.
const TOP_LEVEL: [&[u8; 4]; 14] = [
    b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"uuid", b"moof", b"styp", b"sidx", b"meta",
    b"mfra", b"pdin",
];

/// A top-level box header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    /// Four-character code.
    pub kind: [u8; 4],
    /// Offset of the header in the file.
    pub offset: u64,
    /// Total size including the header.
    pub size: u64,
    /// Header length (8, or 16 with a 64-bit size).
    pub header_len: u64,
}

impl BoxHeader {
    /// The four-character code as text.
    pub fn kind_str(&self) -> String {
        String::from_utf8_lossy(&self.kind).into_owned()
    }
}

/// Lists the top-level boxes of `r` (of `file_len` bytes).
pub fn scan<R: Read + Seek>(r: &mut R, file_len: u64) -> Result<Vec<BoxHeader>> {
    if file_len == 0 {
        return Err(MediaError::Empty);
    }
    let mut boxes = Vec::new();
    let mut offset = 0u64;
    while offset < file_len {
        r.seek(SeekFrom::Start(offset))?;
        let remaining = file_len - offset;
        let mut head = [0u8; 16];
        let n = remaining.min(16) as usize;
        r.read_exact(&mut head[..n])?;
        if boxes.is_empty() && !looks_like_box(&head[..n]) {
            return Err(MediaError::NotMp4(FirstBytes(head[..n].to_vec())));
        }
        if remaining < 8 {
            return Err(MediaError::Truncated {
                kind: "(box header)".into(),
                offset,
                declared: 8,
                available: remaining,
            });
        }
        let kind = [head[4], head[5], head[6], head[7]];
        let size32 = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let (size, header_len) = match size32 {
            0 => (remaining, 8),
            1 => {
                if remaining < 16 {
                    return Err(MediaError::Truncated {
                        kind: String::from_utf8_lossy(&kind).into_owned(),
                        offset,
                        declared: 16,
                        available: remaining,
                    });
                }
                let mut large = [0u8; 8];
                large.copy_from_slice(&head[8..16]);
                (u64::from_be_bytes(large), 16)
            }
            s => (u64::from(s), 8),
        };
        let header = BoxHeader { kind, offset, size, header_len };
        if size < header_len {
            return Err(MediaError::Malformed {
                kind: header.kind_str(),
                offset,
                reason: format!("box size {size} is smaller than its header"),
            });
        }
        if !kind.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return Err(MediaError::Malformed {
                kind: format!("{}", FirstBytes(kind.to_vec())),
                offset,
                reason: "not a box type: the file is corrupt here".into(),
            });
        }
        if size > remaining {
            return Err(MediaError::Truncated {
                kind: header.kind_str(),
                offset,
                declared: size,
                available: remaining,
            });
        }
        boxes.push(header);
        offset += size;
    }
    Ok(boxes)
}

fn looks_like_box(head: &[u8]) -> bool {
    if head.len() < 8 {
        return false;
    }
    let kind: [u8; 4] = [head[4], head[5], head[6], head[7]];
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
    // A size beyond the file is reported later as truncation, not as "not an MP4".
    TOP_LEVEL.iter().any(|k| **k == kind) && (size == 0 || size == 1 || size >= 8)
}

/// Reads the body of a box (everything after its header) into memory.
pub fn read_box<R: Read + Seek>(r: &mut R, header: &BoxHeader) -> Result<Vec<u8>> {
    r.seek(SeekFrom::Start(header.offset))?;
    let len = usize::try_from(header.size).map_err(|_| MediaError::LimitExceeded {
        what: "box size",
        value: header.size,
        limit: usize::MAX as u64,
    })?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn rejects_text_as_not_mp4() {
        let data = b"<html><body>hello</body></html>".to_vec();
        let err = scan(&mut Cursor::new(&data), data.len() as u64).unwrap_err();
        assert!(matches!(err, MediaError::NotMp4(_)));
        assert!(err.to_string().contains("<html><"), "{err}");
    }

    #[test]
    fn names_the_truncated_box() {
        let mut data = vec![0, 0, 0, 16];
        data.extend_from_slice(b"ftypisom\0\0\0\0");
        data.extend_from_slice(&[0, 0, 1, 0]);
        data.extend_from_slice(b"mdat\x01\x02");
        let err = scan(&mut Cursor::new(&data), data.len() as u64).unwrap_err();
        match err {
            MediaError::Truncated { kind, offset, declared, available } => {
                assert_eq!((kind.as_str(), offset, declared, available), ("mdat", 16, 256, 10));
            }
            other => panic!("unexpected {other}"),
        }
    }
}
