//! Bounds what an RTMP peer can make rml_rtmp do. rml_rtmp (idle upstream,
//! pinned) allocates a message's declared length up front, keeps one message
//! in progress whatever its chunk stream, wraps around when a header shrinks
//! a message it is reading (`capacity overflow`), and decodes AMF0 values
//! recursively without a depth limit (a `connect` of a few thousand nested
//! objects overflows the stack and aborts the process). Rather than fork it,
//! every byte after the handshake passes this guard first: a second,
//! allocation-free reading of the chunk headers that refuses what rml_rtmp
//! cannot take safely, and checks AMF messages' nesting before rml_rtmp sees
//! their last byte (it decodes a message only once it is complete). No crate
//! parses RTMP chunks incrementally without allocating per message, so this
//! reading is written here, mirroring rml_rtmp's own so the two never disagree.

use std::collections::HashMap;

/// The deepest AMF0 nesting (objects, ECMA and strict arrays) accepted. OBS,
/// ffmpeg and hardware encoders send at most 2.
pub const MAX_AMF_DEPTH: usize = 16;
/// The largest message a peer may announce before its publish is accepted.
/// `connect`, `createStream` and `publish` are a few hundred bytes.
pub const MAX_MESSAGE_BEFORE_PUBLISH: u32 = 64 * 1024;
/// The most bytes a peer may send before its publish is accepted.
pub const MAX_BYTES_BEFORE_PUBLISH: u64 = 1024 * 1024;
/// The most chunk streams a peer may open (encoders use 3 to 6).
const MAX_CHUNK_STREAMS: usize = 64;
/// The largest chunk size a peer may set (ffmpeg and OBS use 4096; the
/// protocol allows up to 2^31 - 1, which rml_rtmp would accept).
const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// A 3-byte timestamp of all ones announces a 4-byte extended timestamp.
const EXTENDED_TIMESTAMP: u32 = 0x00ff_ffff;

/// Why a peer's bytes were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkRefusal {
    /// A message larger than allowed at this point of the session.
    #[error("a {length}-byte RTMP message (type {type_id}) before the publish was accepted (at most {limit})")]
    MessageTooLarge {
        /// Announced length.
        length: u32,
        /// Message type id.
        type_id: u8,
        /// The limit in force.
        limit: u32,
    },
    /// Too many bytes before a publish was accepted.
    #[error("more than {MAX_BYTES_BEFORE_PUBLISH} bytes without a publish")]
    TooMuchBeforePublish,
    /// A new message header (or another chunk stream) while a message is unfinished.
    #[error("a new RTMP message header on chunk stream {csid} while a message on chunk stream {open} is unfinished")]
    InterleavedMessage {
        /// Chunk stream of the new header.
        csid: u32,
        /// Chunk stream of the unfinished message.
        open: u32,
    },
    /// A chunk header referring to a chunk stream that has had no full header.
    #[error("an RTMP chunk on chunk stream {0} without a previous header")]
    NoPreviousHeader(u32),
    /// Too many chunk streams.
    #[error("more than {MAX_CHUNK_STREAMS} RTMP chunk streams")]
    TooManyChunkStreams,
    /// A Set Chunk Size outside 1..=16 MiB or malformed.
    #[error("an RTMP Set Chunk Size of {0}")]
    BadChunkSize(u32),
    /// AMF values nested deeper than [`MAX_AMF_DEPTH`].
    #[error("AMF0 values nested deeper than {MAX_AMF_DEPTH} in an RTMP message of type {0}")]
    AmfTooDeep(u8),
    /// An extended timestamp that the 3-byte field could have held.
    #[error("an RTMP extended timestamp of {0}, below 0xffffff")]
    BadExtendedTimestamp(u32),
    /// A command without its name, transaction id and command object.
    #[error("an RTMP command (type {0}) without a name, a transaction id and a command object")]
    ShortCommand(u8),
}

/// The last header seen on a chunk stream: what later compressed headers reuse.
#[derive(Debug, Clone, Copy)]
struct StreamHeader {
    length: u32,
    type_id: u8,
    timestamp_field: u32,
}

/// Where the reading of the byte stream is.
#[derive(Debug)]
enum Stage {
    /// Collecting a chunk header (basic + message header + extended timestamp).
    Header,
    /// Inside a chunk's payload: this many bytes left of it.
    Payload(u32),
}

/// The message being received: rml_rtmp holds one at a time.
#[derive(Debug)]
struct Open {
    csid: u32,
    length: u32,
    received: u32,
    type_id: u8,
    /// The payload of messages whose content the guard checks (AMF, Set Chunk Size).
    kept: Option<Vec<u8>>,
}

/// The guard for one connection (see the module comment).
#[derive(Debug)]
pub struct ChunkGuard {
    chunk_size: u32,
    stage: Stage,
    /// Header bytes not yet complete (at most 18).
    header: Vec<u8>,
    streams: HashMap<u32, StreamHeader>,
    open: Option<Open>,
    publishing: bool,
    received: u64,
}

impl Default for ChunkGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkGuard {
    /// A guard for a connection whose handshake just completed.
    pub fn new() -> Self {
        Self {
            chunk_size: 128,
            stage: Stage::Header,
            header: Vec::with_capacity(18),
            streams: HashMap::new(),
            open: None,
            publishing: false,
            received: 0,
        }
    }

    /// The peer's publish was accepted: media messages of any size may follow.
    pub fn publishing(&mut self) {
        self.publishing = true;
    }

    /// Reads the next bytes from the peer; an error means close the connection
    /// without handing these bytes to rml_rtmp.
    pub fn inspect(&mut self, mut bytes: &[u8]) -> Result<(), ChunkRefusal> {
        self.received += bytes.len() as u64;
        if !self.publishing && self.received > MAX_BYTES_BEFORE_PUBLISH {
            return Err(ChunkRefusal::TooMuchBeforePublish);
        }
        while !bytes.is_empty() {
            match self.stage {
                Stage::Header => {
                    let wanted = self.header_length();
                    let take = wanted.saturating_sub(self.header.len()).min(bytes.len());
                    self.header.extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.header.len() == self.header_length() {
                        self.on_header()?;
                    }
                }
                Stage::Payload(left) => {
                    let take = (left as usize).min(bytes.len());
                    self.on_payload(&bytes[..take])?;
                    bytes = &bytes[take..];
                }
            }
        }
        Ok(())
    }

    /// How long the header being collected is, as far as its bytes so far tell.
    fn header_length(&self) -> usize {
        let Some(&first) = self.header.first() else { return 1 };
        let basic = basic_header_length(first);
        if self.header.len() < basic {
            return basic;
        }
        let format = first >> 6;
        let message = [11, 7, 3, 0][usize::from(format)];
        let timestamp_field = match format {
            3 => self.streams.get(&csid(&self.header)).map_or(0, |s| s.timestamp_field),
            _ if self.header.len() < basic + 3 => return basic + 3,
            _ => be24(&self.header[basic..basic + 3]),
        };
        basic + message + if timestamp_field == EXTENDED_TIMESTAMP { 4 } else { 0 }
    }

    /// A complete chunk header: checks it and starts its payload.
    fn on_header(&mut self) -> Result<(), ChunkRefusal> {
        let header = std::mem::take(&mut self.header);
        let format = header[0] >> 6;
        let csid = csid(&header);
        let basic = basic_header_length(header[0]);
        if let Some(open) = &self.open {
            // rml_rtmp appends any chunk to the one message it has open: a new
            // header or another chunk stream would corrupt it or shrink it.
            if format != 3 || csid != open.csid {
                return Err(ChunkRefusal::InterleavedMessage { csid, open: open.csid });
            }
        }
        let mut stream = match (format, self.streams.get(&csid)) {
            (0, _) => StreamHeader { length: 0, type_id: 0, timestamp_field: 0 },
            (_, Some(previous)) => *previous,
            (_, None) => return Err(ChunkRefusal::NoPreviousHeader(csid)),
        };
        if format < 3 {
            stream.timestamp_field = be24(&header[basic..basic + 3]);
        }
        if format < 2 {
            stream.length = be24(&header[basic + 3..basic + 6]);
            stream.type_id = header[basic + 6];
        }
        if !self.streams.contains_key(&csid) && self.streams.len() >= MAX_CHUNK_STREAMS {
            return Err(ChunkRefusal::TooManyChunkStreams);
        }
        self.streams.insert(csid, stream);
        let received = self.open.as_ref().map_or(0, |o| o.received);
        // rml_rtmp subtracts 0xffffff from the extended timestamp of a
        // message's first compressed header (overflowing below it).
        if format != 0 && received == 0 && stream.timestamp_field == EXTENDED_TIMESTAMP {
            let at = header.len() - 4;
            let extended = u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
            if extended < EXTENDED_TIMESTAMP {
                return Err(ChunkRefusal::BadExtendedTimestamp(extended));
            }
        }
        if received == 0 {
            if !self.publishing && stream.length > MAX_MESSAGE_BEFORE_PUBLISH {
                return Err(ChunkRefusal::MessageTooLarge {
                    length: stream.length,
                    type_id: stream.type_id,
                    limit: MAX_MESSAGE_BEFORE_PUBLISH,
                });
            }
            let kept = matches!(stream.type_id, 1 | 15 | 17 | 18 | 20)
                .then(|| Vec::with_capacity(stream.length.min(MAX_MESSAGE_BEFORE_PUBLISH) as usize));
            self.open = Some(Open { csid, length: stream.length, received: 0, type_id: stream.type_id, kept });
        }
        // rml_rtmp's chunk length: the whole message when it fits one chunk.
        let remaining = stream.length - received;
        let chunk = if stream.length > self.chunk_size { remaining.min(self.chunk_size) } else { stream.length };
        self.stage = Stage::Payload(chunk);
        if chunk == 0 {
            self.end_chunk()?;
        }
        Ok(())
    }

    /// Payload bytes of the current chunk.
    fn on_payload(&mut self, bytes: &[u8]) -> Result<(), ChunkRefusal> {
        let Stage::Payload(left) = self.stage else { return Ok(()) };
        if let Some(open) = &mut self.open {
            open.received += bytes.len() as u32;
            if let Some(kept) = &mut open.kept {
                kept.extend_from_slice(bytes);
            }
        }
        let left = left - bytes.len() as u32;
        self.stage = Stage::Payload(left);
        if left == 0 {
            self.end_chunk()?;
        }
        Ok(())
    }

    /// The end of a chunk: the end of its message too, once all of it arrived.
    fn end_chunk(&mut self) -> Result<(), ChunkRefusal> {
        self.stage = Stage::Header;
        let complete = self.open.as_ref().is_some_and(|o| o.received >= o.length);
        if !complete {
            return Ok(());
        }
        let Some(Open { type_id, kept, .. }) = self.open.take() else { return Ok(()) };
        let Some(payload) = kept else { return Ok(()) };
        match type_id {
            1 => {
                let size = payload.get(..4).map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                if !(1..=MAX_CHUNK_SIZE).contains(&size) {
                    return Err(ChunkRefusal::BadChunkSize(size));
                }
                self.chunk_size = size;
            }
            // rml_rtmp reads "AMF3" commands as AMF0 after a leading zero.
            17 => check_amf(payload.strip_prefix(&[0]).unwrap_or(&payload), type_id)?,
            _ => check_amf(&payload, type_id)?,
        }
        Ok(())
    }
}

/// How long a basic header is, from its first byte: chunk stream ids 0 and 1
/// announce one and two more bytes of id.
fn basic_header_length(first: u8) -> usize {
    match first & 0x3f {
        0 => 2,
        1 => 3,
        _ => 1,
    }
}

/// The chunk stream id of a basic header (which must be complete).
fn csid(header: &[u8]) -> u32 {
    match header[0] & 0x3f {
        0 => 64 + u32::from(header[1]),
        1 => 64 + u32::from(header[1]) + 256 * u32::from(header[2]),
        id => u32::from(id),
    }
}

fn be24(b: &[u8]) -> u32 {
    u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2])
}

/// Checks an AMF message before rml_amf0 decodes it: values nested deeper
/// than [`MAX_AMF_DEPTH`] are refused (rml_amf0 recurses without a limit),
/// and so is a command (types 17, 20) without the three values every command
/// starts with (name, transaction id, command object: rml_rtmp's command
/// decoder panics on fewer). Reads the values as rml_amf0 does (the same
/// markers, objects ending at an empty name) but iteratively; where the data
/// is malformed it stops, leaving rml_amf0 to report it, which it does before
/// reaching any deeper level than read here.
pub fn check_amf(data: &[u8], type_id: u8) -> Result<(), ChunkRefusal> {
    let complete = complete_top_level_values(data, type_id)?;
    if matches!(type_id, 17 | 20) && complete < 3 {
        return Err(ChunkRefusal::ShortCommand(type_id));
    }
    Ok(())
}

/// How many top-level values of `data` are complete (read to their end),
/// refusing nesting past [`MAX_AMF_DEPTH`] on the way.
fn complete_top_level_values(data: &[u8], type_id: u8) -> Result<usize, ChunkRefusal> {
    /// What the value being read is inside of.
    enum Frame {
        Object,
        Array(u32),
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut at = 0usize;
    let mut complete = 0usize;
    let u16_at = |at: usize| data.get(at..at + 2).map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    let u32_at = |at: usize| data.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    loop {
        // Inside an object: a property name first; an empty name ends it.
        match stack.last_mut() {
            Some(Frame::Object) => {
                let Some(name) = u16_at(at) else { return Ok(complete) };
                at += 2;
                if name == 0 {
                    at += 1;
                    stack.pop();
                    if stack.is_empty() && at <= data.len() {
                        complete += 1;
                    }
                    continue;
                }
                at += name;
            }
            Some(Frame::Array(0)) => {
                stack.pop();
                if stack.is_empty() {
                    complete += 1;
                }
                continue;
            }
            Some(Frame::Array(left)) => *left -= 1,
            None => {}
        }
        let Some(&marker) = data.get(at) else { return Ok(complete) };
        at += 1;
        match marker {
            0 => at += 8,
            1 => at += 1,
            2 => match u16_at(at) {
                Some(length) => at += 2 + length,
                None => return Ok(complete),
            },
            5 | 6 => {}
            // An end marker where a value was due ends the array (or the message).
            9 => match stack.last() {
                Some(Frame::Array(_)) => {
                    stack.pop();
                    if stack.is_empty() {
                        complete += 1;
                    }
                    continue;
                }
                _ => return Ok(complete),
            },
            3 | 8 | 10 => {
                if stack.len() == MAX_AMF_DEPTH {
                    return Err(ChunkRefusal::AmfTooDeep(type_id));
                }
                stack.push(match marker {
                    3 => Frame::Object,
                    8 => {
                        at += 4;
                        Frame::Object
                    }
                    _ => match u32_at(at) {
                        Some(count) => {
                            at += 4;
                            Frame::Array(count)
                        }
                        None => return Ok(complete),
                    },
                });
                continue;
            }
            _ => return Ok(complete),
        }
        // A scalar was read: at the top level it is one more complete value.
        if stack.is_empty() && at <= data.len() {
            complete += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as chunks: a type 0 header, then type 3 continuations.
    fn chunks(csid: u8, type_id: u8, payload: &[u8], chunk_size: usize) -> Vec<u8> {
        let length = payload.len() as u32;
        let mut out = vec![csid, 0, 0, 0];
        out.extend_from_slice(&length.to_be_bytes()[1..]);
        out.push(type_id);
        out.extend_from_slice(&1u32.to_le_bytes());
        for (i, piece) in payload.chunks(chunk_size).enumerate() {
            if i > 0 {
                out.push(0xc0 | csid);
            }
            out.extend_from_slice(piece);
        }
        out
    }

    fn amf_string(s: &str) -> Vec<u8> {
        let mut out = vec![2];
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
        out
    }

    /// `connect` with its command object holding objects nested `depth` deep.
    fn connect(depth: usize) -> Vec<u8> {
        let mut out = amf_string("connect");
        out.extend_from_slice(&[0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        out.push(3);
        for _ in 1..depth {
            out.extend_from_slice(&[0, 1, b'a', 3]);
        }
        for _ in 0..depth {
            out.extend_from_slice(&[0, 0, 9]);
        }
        out
    }

    #[test]
    fn an_ordinary_session_passes_in_any_split() {
        let mut bytes = chunks(3, 20, &connect(2), 128);
        bytes.extend(chunks(2, 1, &4096u32.to_be_bytes(), 128));
        let video = vec![0x17u8; 10_000];
        let mut publish = amf_string("publish");
        publish.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        bytes.extend(chunks(8, 20, &publish, 4096));
        for split in [1, 7, 128, 4096, bytes.len()] {
            let mut guard = ChunkGuard::new();
            for piece in bytes.chunks(split) {
                guard.inspect(piece).unwrap();
            }
            guard.publishing();
            // After a publish, media larger than the pre-publish limit, with a
            // type 1 header reusing the stream id and a 4-byte extended timestamp.
            let mut media = chunks(6, 9, &video, 4096);
            media.extend([0x46, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 9, 1, 0, 0, 0]);
            media.extend_from_slice(&[0x17; 256]);
            for piece in media.chunks(split) {
                guard.inspect(piece).unwrap();
            }
            assert!(matches!(guard.stage, Stage::Header) && guard.open.is_none(), "split {split}");
        }
    }

    #[test]
    fn deep_amf_is_refused_before_its_last_byte_reaches_the_parser() {
        assert_eq!(check_amf(&connect(MAX_AMF_DEPTH), 20), Ok(()));
        assert_eq!(check_amf(&connect(MAX_AMF_DEPTH + 1), 20), Err(ChunkRefusal::AmfTooDeep(20)));
        // Strict and ECMA arrays nest too.
        let mut arrays = Vec::new();
        for _ in 0..3100 {
            arrays.extend_from_slice(&[10, 0, 0, 0, 1, 8, 0, 0, 0, 1, 0, 1, b'k']);
        }
        assert_eq!(check_amf(&arrays, 18), Err(ChunkRefusal::AmfTooDeep(18)));
        // An "AMF3" command (type 17) is AMF0 after a zero byte.
        let mut amf3 = vec![0];
        amf3.extend(connect(3100));
        let mut guard = ChunkGuard::new();
        let bytes = chunks(3, 17, &amf3, 128);
        assert_eq!(guard.inspect(&bytes), Err(ChunkRefusal::AmfTooDeep(17)));
        // Malformed AMF is left to rml_amf0's errors; it never nests past what was read.
        assert_eq!(check_amf(&[3, 0, 5, b'a'], 18), Ok(()));
        assert_eq!(check_amf(&[0xff, 3, 3, 3], 18), Ok(()));
    }

    /// What fuzz/fuzz_targets/rtmp_session.rs does with an input: the guard,
    /// then rml_rtmp's session, read by read. Panics if rml_rtmp does.
    fn guarded_session(data: &[u8]) -> Result<(), ChunkRefusal> {
        use rml_rtmp::sessions::{ServerSession, ServerSessionConfig};
        let [split, publishing, bytes @ ..] = data else { return Ok(()) };
        let (mut session, _) = ServerSession::new(ServerSessionConfig::new()).unwrap();
        let mut guard = ChunkGuard::new();
        if publishing & 1 == 1 {
            guard.publishing();
        }
        for read in bytes.chunks(usize::from(*split).max(1) * 16) {
            guard.inspect(read)?;
            if session.handle_input(read).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn from_hex(hex: &[&str]) -> Vec<u8> {
        let hex: String = hex.concat();
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn fuzz_findings_are_refused_before_rml_rtmp_panics() {
        // rml_rtmp subtracts 0xffffff from a compressed header's extended timestamp.
        let underflow = from_hex(&[
            "1000030000000000000000408c1400000000000000008383838383838383838383838383838383838383838383838383",
            "83838383838383838383838383838383833d838383838383838383838383838383838383838383838383838383838383",
            "83838383838383838383838383838383ffffffffffffff02830000000000000000000000000000000000000083838383",
            "83838383838383838383838383838383838383838383838383ffffff0083838383838383838383838383838383838383",
            "838383838383838383ffffffff8383838383838383ffffffffffffff0283000000000000000000000000000000000000",
            "0000000000",
        ]);
        assert!(matches!(guarded_session(&underflow), Err(ChunkRefusal::BadExtendedTimestamp(_))));
        // rml_rtmp takes the first three values of a command for granted.
        let short = [16u8, 0, 3, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 20, 140, 0, 0, 0, 2, 0, 7, 0];
        assert_eq!(guarded_session(&short), Err(ChunkRefusal::ShortCommand(20)));
    }

    #[test]
    fn a_command_needs_its_three_values() {
        // Found by fuzz/rtmp_session: rml_rtmp panics on commands of fewer than three values.
        let crash = [
            16u8, 0, 3, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 20, 140, 0, 0, 0, 2, 0, 7, 0, 0, 191,
            240, 9,
        ];
        assert_eq!(ChunkGuard::new().inspect(&crash[2..]), Err(ChunkRefusal::ShortCommand(20)));
        let mut name_only = vec![2, 0, 7];
        name_only.extend_from_slice(b"connect");
        assert_eq!(check_amf(&name_only, 20), Err(ChunkRefusal::ShortCommand(20)));
        name_only.extend_from_slice(&[0, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(check_amf(&name_only, 20), Err(ChunkRefusal::ShortCommand(20)));
        name_only.push(5);
        assert_eq!(check_amf(&name_only, 20), Ok(()), "name, id and a null object");
        assert_eq!(check_amf(&connect(2), 20), Ok(()));
        assert_eq!(check_amf(&[], 18), Ok(()), "data messages may be empty");
    }

    #[test]
    fn a_header_that_changes_an_unfinished_message_is_refused() {
        let mut guard = ChunkGuard::new();
        let mut bytes = chunks(3, 20, &[5u8; 1000], 128);
        bytes.truncate(12 + 128);
        // A type 1 header on the same chunk stream shrinking the message to 10 bytes.
        bytes.extend([0x43, 0, 0, 0, 0, 0, 10, 20]);
        assert_eq!(guard.inspect(&bytes), Err(ChunkRefusal::InterleavedMessage { csid: 3, open: 3 }));
        // A continuation on another chunk stream.
        let mut guard = ChunkGuard::new();
        let mut bytes = chunks(3, 20, &[5u8; 1000], 128);
        bytes.truncate(12 + 128);
        bytes.extend(chunks(4, 20, &[5u8; 10], 128));
        assert_eq!(guard.inspect(&bytes), Err(ChunkRefusal::InterleavedMessage { csid: 4, open: 3 }));
    }

    #[test]
    fn sizes_are_bounded_until_the_publish_is_accepted() {
        let mut guard = ChunkGuard::new();
        let header = &chunks(3, 9, &vec![0u8; 16 * 1024 * 1024 - 1], 128)[..12];
        assert_eq!(
            guard.inspect(header),
            Err(ChunkRefusal::MessageTooLarge {
                length: 16 * 1024 * 1024 - 1,
                type_id: 9,
                limit: MAX_MESSAGE_BEFORE_PUBLISH
            })
        );
        // Many small messages: the byte budget.
        let mut guard = ChunkGuard::new();
        let small = chunks(3, 4, &[0u8; 6], 128);
        let mut outcome = Ok(());
        for _ in 0..(MAX_BYTES_BEFORE_PUBLISH as usize / small.len() + 1) {
            outcome = guard.inspect(&small);
            if outcome.is_err() {
                break;
            }
        }
        assert_eq!(outcome, Err(ChunkRefusal::TooMuchBeforePublish));
        // Chunk streams, chunk sizes, and compressed headers with nothing before them.
        let mut guard = ChunkGuard::new();
        let many: Vec<u8> =
            (0..=MAX_CHUNK_STREAMS as u8).flat_map(|i| [0, i, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0]).collect();
        assert_eq!(guard.inspect(&many), Err(ChunkRefusal::TooManyChunkStreams));
        assert_eq!(
            ChunkGuard::new().inspect(&chunks(2, 1, &0u32.to_be_bytes(), 128)),
            Err(ChunkRefusal::BadChunkSize(0))
        );
        assert_eq!(ChunkGuard::new().inspect(&[0x45, 0, 0, 0, 0, 0, 4, 20]), Err(ChunkRefusal::NoPreviousHeader(5)));
    }
}
