//! FLV tag bodies as RTMP carries them: H.264 video (`AVCVIDEOPACKET`: a
//! sequence header with the avcC, or NAL units with a composition time),
//! Enhanced RTMP's video (the `ex` header with a FourCC: HEVC `hvc1`, AV1
//! `av01`, H.264 `avc1`; a sequence start with the hvcC/av1C/avcC record, or
//! coded frames) and AAC audio (`AACAUDIODATA`: the AudioSpecificConfig, or a
//! raw frame). Anything else is rejected by name.
//! Written by hand: the FLV tag-body layout is a few bytes of flags, and the
//! crates that parse FLV read whole files, not RTMP message bodies.

use mp4_atom::Atom;

use crate::aac::AacConfig;
use crate::error::{MediaError, Result};
use crate::h264::config::AvcConfig;

/// The video codecs RTMP brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlvVideoCodec {
    /// H.264 (legacy codec id 7, or Enhanced RTMP's `avc1`).
    Avc,
    /// HEVC (Enhanced RTMP's `hvc1`).
    Hevc,
    /// AV1 (Enhanced RTMP's `av01`).
    Av1,
}

impl FlvVideoCodec {
    /// libavcodec's name for it.
    pub fn codec_name(self) -> &'static str {
        match self {
            Self::Avc => "h264",
            Self::Hevc => "hevc",
            Self::Av1 => "av1",
        }
    }
}

/// A video message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoTag {
    /// The decoder configuration: the avcC (legacy H.264, parsed) ...
    SequenceHeader(AvcConfig),
    /// ... or an Enhanced RTMP sequence start: the codec's configuration
    /// record (hvcC, av1C, avcC) as sent.
    SequenceStart {
        /// The codec.
        codec: FlvVideoCodec,
        /// The configuration record, as MP4 carries it.
        record: Vec<u8>,
    },
    /// One access unit as MP4 carries it (length-prefixed NAL units, or AV1 OBUs).
    Frame {
        /// True for a keyframe (IDR).
        keyframe: bool,
        /// Presentation minus decode time, in milliseconds.
        composition_ms: i32,
        /// The access unit.
        data: Vec<u8>,
    },
    /// The publisher says the stream ends.
    EndOfSequence,
    /// Enhanced RTMP metadata or a command frame: nothing to cut.
    Ignored,
}

/// An audio message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioTag {
    /// The AudioSpecificConfig.
    SequenceHeader(AacConfig),
    /// One raw AAC frame.
    Frame(Vec<u8>),
}

fn malformed(kind: &str, reason: String) -> MediaError {
    MediaError::Malformed { kind: kind.into(), offset: 0, reason }
}

/// FLV video codec ids, for messages naming what was sent.
fn video_codec_name(id: u8) -> &'static str {
    match id {
        2 => "Sorenson H.263",
        3 => "Screen video",
        4 => "On2 VP6",
        5 => "On2 VP6 with alpha",
        6 => "Screen video 2",
        7 => "H.264",
        12 => "HEVC",
        13 => "AV1",
        _ => "unknown",
    }
}

/// Parses an RTMP video message body.
pub fn parse_video(body: &[u8]) -> Result<VideoTag> {
    let first = *body.first().ok_or_else(|| malformed("FLV video", "empty video message".into()))?;
    if first & 0x80 != 0 {
        return parse_enhanced_video(first, body);
    }
    let (frame_type, codec) = (first >> 4, first & 0x0f);
    if codec != 7 {
        return Err(MediaError::UnsupportedVideoCodec {
            codec: video_codec_name(codec),
            fourcc: format!("FLV codec {codec}"),
        });
    }
    let header = body.get(1..5).ok_or_else(|| malformed("FLV video", format!("AVC header of {} bytes", body.len())))?;
    let composition = i32::from_be_bytes([header[1], header[2], header[3], 0]) >> 8; // signed 24-bit
    let payload = &body[5..];
    match header[0] {
        0 => {
            let avcc = mp4_atom::Avcc::decode_body(&mut &payload[..])
                .map_err(|e| malformed("FLV avcC", format!("invalid AVC sequence header: {e}")))?;
            Ok(VideoTag::SequenceHeader(AvcConfig::from_avcc(&avcc)?))
        }
        1 => Ok(VideoTag::Frame { keyframe: frame_type == 1, composition_ms: composition, data: payload.to_vec() }),
        2 => Ok(VideoTag::EndOfSequence),
        other => Err(malformed("FLV video", format!("unknown AVC packet type {other}"))),
    }
}

/// Enhanced RTMP (veovera's E-RTMP v1/v2): `[1 | frame type:3 | packet
/// type:4] [FourCC]` then the packet.
fn parse_enhanced_video(first: u8, body: &[u8]) -> Result<VideoTag> {
    let (frame_type, packet_type) = ((first >> 4) & 0x07, first & 0x0f);
    let fourcc = body.get(1..5).ok_or_else(|| malformed("E-RTMP video", "no FourCC".into()))?;
    let codec = match fourcc {
        b"hvc1" => FlvVideoCodec::Hevc,
        b"av01" => FlvVideoCodec::Av1,
        b"avc1" => FlvVideoCodec::Avc,
        other if packet_type == 6 || other.iter().any(|b| !b.is_ascii_graphic()) => {
            return Err(MediaError::UnsupportedVideoCodec {
                codec: "Enhanced RTMP multitrack or unknown video",
                fourcc: format!("packet type {packet_type}"),
            })
        }
        other => {
            return Err(MediaError::UnsupportedVideoCodec {
                codec: "Enhanced RTMP video",
                fourcc: String::from_utf8_lossy(other).into_owned(),
            })
        }
    };
    let payload = &body[5..];
    // Frame type 5 is a command frame (seek start/end): no picture.
    if frame_type == 5 {
        return Ok(VideoTag::Ignored);
    }
    let keyframe = frame_type == 1;
    match packet_type {
        0 => Ok(VideoTag::SequenceStart { codec, record: payload.to_vec() }),
        // CodedFrames: HEVC and H.264 carry a signed 24-bit composition time first; AV1 none.
        1 if codec != FlvVideoCodec::Av1 => {
            let cts = payload
                .get(..3)
                .ok_or_else(|| malformed("E-RTMP video", "coded frames without a composition time".into()))?;
            let composition_ms = i32::from_be_bytes([cts[0], cts[1], cts[2], 0]) >> 8;
            Ok(VideoTag::Frame { keyframe, composition_ms, data: payload[3..].to_vec() })
        }
        // CodedFramesX: composition time 0.
        1 | 3 => Ok(VideoTag::Frame { keyframe, composition_ms: 0, data: payload.to_vec() }),
        2 => Ok(VideoTag::EndOfSequence),
        4 => Ok(VideoTag::Ignored),
        5 => Err(MediaError::UnsupportedVideoCodec {
            codec: "AV1 in MPEG-2 TS framing over RTMP",
            fourcc: "av01 (MPEG2TSSequenceStart)".into(),
        }),
        other => Err(malformed("E-RTMP video", format!("unknown packet type {other}"))),
    }
}

/// Parses an RTMP audio message body.
pub fn parse_audio(body: &[u8]) -> Result<AudioTag> {
    let first = *body.first().ok_or_else(|| malformed("FLV audio", "empty audio message".into()))?;
    let format = first >> 4;
    if format != 10 {
        let name = match format {
            2 => "MP3",
            11 => "Speex",
            14 => "MP3 8 kHz",
            0 | 3 => "PCM",
            1 => "ADPCM",
            4..=6 => "Nellymoser",
            7 | 8 => "G.711",
            _ => "unknown",
        };
        return Err(MediaError::Unsupported(format!(
            "{name} audio (FLV sound format {format}): only AAC is supported"
        )));
    }
    let packet_type = *body.get(1).ok_or_else(|| malformed("FLV audio", "AAC packet without a type".into()))?;
    let payload = &body[2..];
    match packet_type {
        0 => Ok(AudioTag::SequenceHeader(AacConfig::from_asc(payload)?)),
        1 => Ok(AudioTag::Frame(payload.to_vec())),
        other => Err(malformed("FLV audio", format!("unknown AAC packet type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_composition_times() {
        // Keyframe, AVC NALU, composition time -1 (0xffffff), one length-prefixed NAL.
        let body = [0x17, 1, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x65];
        assert_eq!(
            parse_video(&body).unwrap(),
            VideoTag::Frame { keyframe: true, composition_ms: -1, data: vec![0, 0, 0, 1, 0x65] }
        );
        let inter = [0x27, 1, 0, 0, 66, 0, 0, 0, 1, 0x41];
        assert!(matches!(parse_video(&inter).unwrap(), VideoTag::Frame { keyframe: false, composition_ms: 66, .. }));
        assert_eq!(parse_video(&[0x17, 2, 0, 0, 0]).unwrap(), VideoTag::EndOfSequence);
        assert_eq!(parse_audio(&[0xaf, 1, 0x21, 0x10]).unwrap(), AudioTag::Frame(vec![0x21, 0x10]));
        match parse_audio(&[0xaf, 0, 0x11, 0x90]).unwrap() {
            AudioTag::SequenceHeader(config) => assert_eq!((config.sample_rate, config.channels), (48_000, 2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn enhanced_rtmp_hevc_and_av1() {
        // As ffmpeg 7+ sends HEVC: sequence start, coded frames with a composition time, CodedFramesX.
        let start = [&[0x90][..], b"hvc1", &[1, 2, 3]].concat();
        assert_eq!(
            parse_video(&start).unwrap(),
            VideoTag::SequenceStart { codec: FlvVideoCodec::Hevc, record: vec![1, 2, 3] }
        );
        let key = [&[0x91][..], b"hvc1", &[0, 0, 0x43, 0, 0, 0, 1, 0x26]].concat();
        assert_eq!(
            parse_video(&key).unwrap(),
            VideoTag::Frame { keyframe: true, composition_ms: 0x43, data: vec![0, 0, 0, 1, 0x26] }
        );
        let x = [&[0xa3][..], b"hvc1", &[0, 0, 0, 1, 2]].concat();
        assert!(matches!(parse_video(&x).unwrap(), VideoTag::Frame { keyframe: false, composition_ms: 0, .. }));
        let av1 = [&[0x91][..], b"av01", &[0x12, 0]].concat();
        assert_eq!(
            parse_video(&av1).unwrap(),
            VideoTag::Frame { keyframe: true, composition_ms: 0, data: vec![0x12, 0] }
        );
        let metadata = [&[0xd4][..], b"hvc1", &[2, 0]].concat();
        assert_eq!(parse_video(&metadata).unwrap(), VideoTag::Ignored);
        assert!(parse_video(&[0x91, b'h', b'v', b'c', b'1', 0]).is_err(), "a cut composition time");
        assert!(parse_video(&[0x90, b'h', b'v']).is_err());
    }

    #[test]
    fn other_codecs_are_named() {
        let vp6 = parse_video(&[0x14, 0, 0, 0, 0]).unwrap_err().to_string();
        assert!(vp6.contains("On2 VP6"), "{vp6}");
        let vp9 = parse_video(&[0x90, b'v', b'p', b'0', b'8']).unwrap_err().to_string();
        assert!(vp9.contains("vp08"), "{vp9}");
        let mp3 = parse_audio(&[0x2f, 0]).unwrap_err().to_string();
        assert!(mp3.contains("MP3") && mp3.contains("only AAC"), "{mp3}");
        for truncated in [&[][..], &[0x17][..], &[0x17, 1, 0][..]] {
            assert!(parse_video(truncated).is_err());
        }
        assert!(parse_video(&[0x17, 0, 0, 0, 0, 1, 2]).is_err(), "a short avcC is an error, not a panic");
    }
}
