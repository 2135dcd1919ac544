//! Source segments: what the coordinator hands a worker for one segment.
//!
//! A source segment carries the compressed video packets a worker must decode
//! to produce the segment's frames (from the keyframe at or before the cut, so
//! cuts need not fall on keyframes), the presentation range to keep, how to
//! normalise the pictures, and the segment's AAC audio frames. Any codec
//! libavcodec decodes travels as its [`CodecParams`].
//!
//! Written by hand rather than as NUT or Matroska through libavformat: it is
//! an internal hand-off between our own services that must keep the source's
//! exact time base (NUT rescales it, Matroska rounds to milliseconds) and the
//! cut range, and a flat list of packets needs no muxer. Layout: the magic
//! `TSSEG1\n`, a big-endian u32 header length, the JSON [`SegmentHeader`],
//! then packets of `[stream u8][flags u8][pts i64][dts i64][duration i64][len u32][bytes]`,
//! all big-endian.

use serde::{Deserialize, Serialize};

use crate::av::params::CodecParams;
use crate::error::{MediaError, Result};

const MAGIC: &[u8] = b"TSSEG1\n";
/// A header larger than this is refused (extradata is a few hundred bytes).
const MAX_HEADER: usize = 1 << 20;
const PACKET_HEADER: usize = 1 + 1 + 8 + 8 + 8 + 4;

/// How a segment's pictures are to be normalised before scaling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalise {
    /// Clockwise rotation to apply: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Deinterlace (the source is coded as fields).
    pub deinterlace: bool,
    /// Tone-map from this HDR transfer (`smpte2084` or `arib-std-b67`) to SDR BT.709.
    pub tone_map: Option<String>,
    /// The picture as shown (square pixels, rotation applied): what rungs are sized from.
    pub display: (u32, u32),
}

/// The video part of a source segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentVideo {
    /// What the decoder needs.
    pub params: CodecParams,
    /// Time base of the packets' timestamps.
    pub time_base: (i32, i32),
    /// Output timescale: frame times are rescaled to it.
    pub timescale: u32,
    /// The source's presentation time 0 (in `time_base`): subtracted from every frame.
    pub origin: i64,
    /// First presentation time kept (in `time_base`, inclusive).
    pub start: i64,
    /// Presentation time where the segment ends (in `time_base`, exclusive).
    pub end: i64,
    /// Frames shown in `[start, end)`.
    pub frames: usize,
    /// Picture normalisation.
    pub normalise: Normalise,
}

impl SegmentHeader {
    /// Audio track `track`'s configuration.
    pub fn audio_track(&self, track: u8) -> Option<&SegmentAudio> {
        match track {
            0 => self.audio.as_ref(),
            n => self.other_audio.get(usize::from(n) - 1),
        }
    }
}

impl SegmentVideo {
    /// A presentation time (in `time_base`) on the output clock: ticks of
    /// `timescale` from the source's time 0, rounded to nearest.
    pub fn out_ticks(&self, pts: i64) -> i64 {
        crate::av::rescale(pts - self.origin, self.time_base, (1, i32::try_from(self.timescale).unwrap_or(i32::MAX)))
    }
}

/// The audio part of a source segment: AAC-LC frames on the audio rendition's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentAudio {
    /// The AudioSpecificConfig.
    #[serde(with = "crate::av::params::b64")]
    pub asc: Vec<u8>,
    /// Sampling rate (the timescale of audio packets).
    pub sample_rate: u32,
}

/// Everything about a source segment but its packets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentHeader {
    /// Segment number.
    pub seq: u32,
    /// The video stream.
    pub video: SegmentVideo,
    /// The audio stream, if the job has audio (its first track).
    pub audio: Option<SegmentAudio>,
    /// The job's other audio tracks, in order (track 1, 2, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_audio: Vec<SegmentAudio>,
    /// Set when this is one chunk of a segment streamed as it is cut (a
    /// low-latency live channel's): the chunk's number, and whether it is the
    /// last (then `video.end` and `video.frames` are final).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk: Option<SourceChunk>,
}

/// Where a chunk of a streamed segment falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceChunk {
    /// Chunk number within the segment, from 0.
    pub index: u32,
    /// True for the segment's last chunk.
    pub last: bool,
    /// When the chunk was cut (ms since the Unix epoch, the cutter's clock):
    /// the arrival of its last packet, for latency figures.
    #[serde(default)]
    pub cut_at_ms: u64,
}

/// Which stream a packet belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// The video stream.
    Video,
    /// Audio track n (0: [`SegmentHeader::audio`], n > 0: `other_audio[n - 1]`).
    Audio(u8),
}

/// One compressed packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentPacket {
    /// Its stream.
    pub stream: StreamKind,
    /// Keyframe.
    pub key: bool,
    /// Presentation time (video: `time_base`; audio: samples on the rendition's timeline).
    pub pts: i64,
    /// Decode time (same unit).
    pub dts: i64,
    /// Duration (same unit).
    pub duration: i64,
    /// The packet's bytes.
    pub data: Vec<u8>,
}

/// A whole source segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceSegment {
    /// The header.
    pub header: SegmentHeader,
    /// Packets, video in decode order, audio in order.
    pub packets: Vec<SegmentPacket>,
}

impl SourceSegment {
    /// Serialises the segment.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header)
            .map_err(|e| MediaError::Mux { kind: "source segment", reason: e.to_string() })?;
        let payload: usize = self.packets.iter().map(|p| PACKET_HEADER + p.data.len()).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 4 + header.len() + payload);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&u32::try_from(header.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&header);
        for p in &self.packets {
            let len = u32::try_from(p.data.len()).map_err(|_| MediaError::Mux {
                kind: "source segment",
                reason: format!("a packet of {} bytes", p.data.len()),
            })?;
            out.push(match p.stream {
                StreamKind::Video => 0,
                StreamKind::Audio(track) => track.saturating_add(1),
            });
            out.push(u8::from(p.key));
            out.extend_from_slice(&p.pts.to_be_bytes());
            out.extend_from_slice(&p.dts.to_be_bytes());
            out.extend_from_slice(&p.duration.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&p.data);
        }
        Ok(out)
    }

    /// Parses a segment, checking every length against the bytes present.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let bad = |reason: String| MediaError::BadSegment(reason);
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("does not start with the TSSEG1 magic".into()))?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(|| bad("ends inside its header length".into()))?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > MAX_HEADER || len > rest.len() {
            return Err(bad(format!("header of {len} bytes with {} bytes left", rest.len())));
        }
        let (header, mut rest) = rest.split_at(len);
        let header: SegmentHeader = serde_json::from_slice(header).map_err(|e| bad(format!("header: {e}")))?;
        let mut packets = Vec::new();
        while !rest.is_empty() {
            if rest.len() < PACKET_HEADER {
                return Err(bad(format!("truncated packet header at packet {}", packets.len())));
            }
            let stream = match rest[0] {
                0 => StreamKind::Video,
                track => StreamKind::Audio(track - 1),
            };
            let key = rest[1] & 1 == 1;
            let int = |at: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&rest[at..at + 8]);
                i64::from_be_bytes(b)
            };
            let (pts, dts, duration) = (int(2), int(10), int(18));
            let mut l = [0u8; 4];
            l.copy_from_slice(&rest[26..30]);
            let size = u32::from_be_bytes(l) as usize;
            let body = &rest[PACKET_HEADER..];
            if size > body.len() {
                return Err(bad(format!("packet {} of {size} bytes with {} left", packets.len(), body.len())));
            }
            packets.push(SegmentPacket { stream, key, pts, dts, duration, data: body[..size].to_vec() });
            rest = &body[size..];
        }
        Ok(Self { header, packets })
    }

    /// The video packets, in decode order.
    pub fn video(&self) -> impl Iterator<Item = &SegmentPacket> {
        self.packets.iter().filter(|p| p.stream == StreamKind::Video)
    }

    /// The first audio track's packets, in order.
    pub fn audio(&self) -> impl Iterator<Item = &SegmentPacket> {
        self.audio_track(0)
    }

    /// Audio track `track`'s packets, in order.
    pub fn audio_track(&self, track: u8) -> impl Iterator<Item = &SegmentPacket> {
        self.packets.iter().filter(move |p| p.stream == StreamKind::Audio(track))
    }
}
