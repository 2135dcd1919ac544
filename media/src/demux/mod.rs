//! MP4/MOV demuxing: finds the moov (at the start or the end), picks the
//! H.264 video track and an optional AAC audio track, and exposes every
//! sample with its timestamps, size, offset and sync flag. Sample bytes are
//! read on demand, so large uploads are never held whole in memory.

pub mod fragments;
pub mod sample_table;
pub mod top_level;

use std::io::{Read, Seek, SeekFrom};

use mp4_atom::{Codec, Decode, Moov, Trak};

pub use sample_table::Sample;
use sample_table::SampleLimit;

use crate::aac::AacConfig;
use crate::error::{MediaError, Result};
use crate::h264::AvcConfig;
use crate::limits::Limits;

/// The H.264 video track of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoTrack {
    /// Track id in the source file.
    pub track_id: u32,
    /// Media timescale (ticks per second).
    pub timescale: u32,
    /// Display width (SPS cropping applied).
    pub width: u32,
    /// Display height (SPS cropping applied).
    pub height: u32,
    /// avcC contents.
    pub config: AvcConfig,
    /// Edit-list shift: `dts + decode_offset` is the raw (non-negative) decode time.
    pub decode_offset: i64,
    /// Samples in decode order.
    pub samples: Vec<Sample>,
}

/// The AAC audio track of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioTrack {
    /// Track id in the source file.
    pub track_id: u32,
    /// Media timescale (normally the sampling rate).
    pub timescale: u32,
    /// AudioSpecificConfig and what it says.
    pub config: AacConfig,
    /// Edit-list shift (encoder priming), as for video.
    pub decode_offset: i64,
    /// Samples (AAC frames) in order.
    pub samples: Vec<Sample>,
}

/// Something Tessera can transcode: H.264 video plus optional AAC audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Mp4Source {
    /// Major brand of the ftyp box (e.g. "isom", "qt  "), if present.
    pub brand: Option<String>,
    /// Size of the file in bytes.
    pub file_len: u64,
    /// The video track.
    pub video: VideoTrack,
    /// The audio track, when there is an AAC one.
    pub audio: Option<AudioTrack>,
    /// Things skipped on the way (e.g. a non-AAC audio track).
    pub warnings: Vec<String>,
}

/// Human name of a sample entry's codec.
fn codec_name(codec: &Codec) -> (&'static str, String) {
    let (name, fourcc): (&'static str, &str) = match codec {
        Codec::Avc1(_) => ("h264", "avc1"),
        Codec::Avc3(_) => ("h264", "avc3"),
        Codec::Hev1(_) => ("hevc", "hev1"),
        Codec::Hvc1(_) => ("hevc", "hvc1"),
        Codec::Vp08(_) => ("vp8", "vp08"),
        Codec::Vp09(_) => ("vp9", "vp09"),
        Codec::Av01(_) => ("av1", "av01"),
        Codec::Jpeg(_) => ("mjpeg", "jpeg"),
        Codec::Uncv(_) => ("uncompressed video", "uncv"),
        Codec::Mp4a(mp4a) => match mp4a.esds.es_desc.dec_config.object_type_indication {
            0x40 | 0x66..=0x68 => ("aac", "mp4a"),
            0x69 | 0x6B => ("mp3", "mp4a"),
            0xA5 => ("ac-3", "mp4a"),
            0xA6 => ("e-ac-3", "mp4a"),
            0xA9..=0xAC => ("dts", "mp4a"),
            0xAD => ("opus", "mp4a"),
            _ => ("mpeg-4 audio (not aac)", "mp4a"),
        },
        Codec::Mp3(_) => ("mp3", ".mp3"),
        Codec::Opus(_) => ("opus", "Opus"),
        Codec::Flac(_) => ("flac", "fLaC"),
        Codec::Ac3(_) => ("ac-3", "ac-3"),
        Codec::Eac3(_) => ("e-ac-3", "ec-3"),
        Codec::Unknown(kind, _) => {
            let fourcc = kind.to_string();
            let name = match &fourcc[..] {
                "mp4v" => "mpeg4",
                "apch" | "apcn" | "apcs" | "apco" | "ap4h" => "prores",
                "dvh1" | "dvhe" => "dolby vision (hevc)",
                "s263" | "h263" => "h263",
                _ => "unknown",
            };
            return (name, fourcc);
        }
        _ => ("other", "?"),
    };
    (name, fourcc.to_string())
}

fn handler(trak: &Trak) -> String {
    trak.mdia.hdlr.handler.to_string()
}

impl Mp4Source {
    /// Reads the file's structure; samples are read later with [`Self::read_sample`].
    pub fn open<R: Read + Seek>(r: &mut R, limits: &Limits) -> Result<Self> {
        let file_len = r.seek(SeekFrom::End(0))?;
        let boxes = top_level::scan(r, file_len)?;
        let brand = match boxes.iter().find(|b| &b.kind == b"ftyp") {
            Some(ftyp) if ftyp.size >= 12 => {
                let body = top_level::read_box(r, ftyp)?;
                Some(String::from_utf8_lossy(&body[8..12]).into_owned())
            }
            _ => None,
        };
        let Some(moov_header) = boxes.iter().find(|b| &b.kind == b"moov") else {
            return Err(MediaError::MissingBox {
                kind: "moov",
                hint: " (no index of the samples: the file is truncated or was never finalized)",
            });
        };
        let fragmented = boxes.iter().any(|b| &b.kind == b"moof");
        let body = top_level::read_box(r, moov_header)?;
        let moov = Moov::decode(&mut body.as_slice()).map_err(|e| MediaError::Malformed {
            kind: "moov".into(),
            offset: moov_header.offset,
            reason: e.to_string(),
        })?;
        let mut source = Self::from_moov(&moov, file_len, brand, limits)?;
        if fragmented {
            let trex = moov.mvex.as_ref().map(|m| m.trex.as_slice()).unwrap_or_default();
            let mut targets = vec![fragments::FragmentTarget {
                track_id: source.video.track_id,
                shift: source.video.decode_offset,
                samples: &mut source.video.samples,
            }];
            if let Some(audio) = source.audio.as_mut() {
                targets.push(fragments::FragmentTarget {
                    track_id: audio.track_id,
                    shift: audio.decode_offset,
                    samples: &mut audio.samples,
                });
            }
            fragments::append_fragments(r, &boxes, trex, &mut targets)?;
        }
        if source.video.samples.is_empty() {
            return Err(MediaError::Malformed {
                kind: "stbl".into(),
                offset: moov_header.offset,
                reason: format!("video track {} has no samples", source.video.track_id),
            });
        }
        Limits::check("video frame count", source.video.samples.len() as u64, limits.max_frames)?;
        Limits::check("duration in seconds", source.duration_secs().ceil() as u64, limits.max_duration_secs)?;
        source.check_sample_ranges()?;
        Ok(source)
    }

    fn from_moov(moov: &Moov, file_len: u64, brand: Option<String>, limits: &Limits) -> Result<Self> {
        let movie_timescale = moov.mvhd.timescale;
        let mut warnings = Vec::new();
        let mut video: Option<VideoTrack> = None;
        let mut audio: Option<AudioTrack> = None;
        let mut found = Vec::new();

        for trak in &moov.trak {
            let track_id = trak.tkhd.track_id;
            let kind = handler(trak);
            let stbl = &trak.mdia.minf.stbl;
            let Some(codec) = stbl.stsd.codecs.first() else {
                found.push(format!("track {track_id} ({kind}) without a sample description"));
                continue;
            };
            let (name, fourcc) = codec_name(codec);
            found.push(format!("track {track_id}: {kind} {name}"));
            let timescale = trak.mdia.mdhd.timescale;
            if timescale == 0 {
                return Err(MediaError::Malformed {
                    kind: "mdhd".into(),
                    offset: 0,
                    reason: format!("track {track_id} has a timescale of 0"),
                });
            }
            let shift =
                sample_table::edit_shift(trak.edts.as_ref().and_then(|e| e.elst.as_ref()), movie_timescale, timescale);
            match kind.as_str() {
                "vide" if video.is_none() => {
                    let avcc = match codec {
                        Codec::Avc1(c) => &c.avcc,
                        Codec::Avc3(c) => &c.avcc,
                        _ => return Err(MediaError::UnsupportedVideoCodec { codec: name, fourcc }),
                    };
                    let config = AvcConfig::from_avcc(avcc)?;
                    config.check_supported()?;
                    let info = config.sps_info()?;
                    Limits::check("video width", u64::from(info.width), u64::from(limits.max_width))?;
                    Limits::check("video height", u64::from(info.height), u64::from(limits.max_height))?;
                    let limit = SampleLimit { what: "video frame count", max: limits.max_frames };
                    let samples = sample_table::flatten(stbl, shift, limit)?;
                    video = Some(VideoTrack {
                        track_id,
                        timescale,
                        width: info.width,
                        height: info.height,
                        config,
                        decode_offset: shift,
                        samples,
                    });
                }
                "soun" if audio.is_none() => {
                    // AAC has at most ~94 frames a second (96 kHz / 1024).
                    let audio_limit =
                        SampleLimit { what: "audio frame count", max: limits.max_duration_secs.saturating_mul(100) };
                    let aac = match codec {
                        Codec::Mp4a(mp4a)
                            if matches!(mp4a.esds.es_desc.dec_config.object_type_indication, 0x40 | 0x66..=0x68) =>
                        {
                            mp4a.esds.es_desc.dec_config.dec_specific.as_ref()
                        }
                        _ => None,
                    };
                    let Some(dec_specific) = aac else {
                        warnings.push(format!("audio track {track_id} is {name}, not AAC: audio skipped"));
                        continue;
                    };
                    let config = AacConfig::from_asc(&dec_specific.raw)?;
                    audio = Some(AudioTrack {
                        track_id,
                        timescale,
                        config,
                        decode_offset: shift,
                        samples: sample_table::flatten(stbl, shift, audio_limit)?,
                    });
                }
                "vide" | "soun" => warnings.push(format!("extra {kind} track {track_id} ({name}) ignored")),
                _ => {}
            }
        }

        let Some(video) = video else {
            let found = if found.is_empty() { "no tracks".to_string() } else { found.join(", ") };
            return Err(MediaError::NoVideoTrack { found });
        };
        Ok(Self { brand, file_len, video, audio, warnings })
    }

    fn check_sample_ranges(&self) -> Result<()> {
        let tracks = std::iter::once((self.video.track_id, &self.video.samples))
            .chain(self.audio.iter().map(|a| (a.track_id, &a.samples)));
        for (track, samples) in tracks {
            for (index, s) in samples.iter().enumerate() {
                if s.offset.saturating_add(u64::from(s.size)) > self.file_len {
                    return Err(MediaError::SampleOutOfRange {
                        track,
                        index,
                        offset: s.offset,
                        size: s.size,
                        file_len: self.file_len,
                    });
                }
            }
        }
        Ok(())
    }

    /// Reads one sample's bytes.
    pub fn read_sample<R: Read + Seek>(&self, r: &mut R, sample: &Sample) -> Result<Vec<u8>> {
        r.seek(SeekFrom::Start(sample.offset))?;
        let mut buf = vec![0u8; sample.size as usize];
        r.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Reads the bytes of several samples, in order.
    pub fn read_samples<R: Read + Seek>(&self, r: &mut R, samples: &[Sample]) -> Result<Vec<Vec<u8>>> {
        samples.iter().map(|s| self.read_sample(r, s)).collect()
    }

    /// Video duration in seconds (end of the last frame's presentation).
    pub fn duration_secs(&self) -> f64 {
        self.video.duration_ticks() as f64 / f64::from(self.video.timescale)
    }
}

impl VideoTrack {
    /// Presentation span of the track in timescale ticks.
    pub fn duration_ticks(&self) -> i64 {
        let start = self.samples.iter().map(|s| s.pts).min().unwrap_or(0);
        let end = self.samples.iter().map(|s| s.pts + i64::from(s.duration)).max().unwrap_or(0);
        end - start
    }

    /// Nominal frame rate: timescale over the most common frame duration.
    pub fn frame_rate(&self) -> f64 {
        let mut durations: Vec<u32> = self.samples.iter().map(|s| s.duration).filter(|&d| d > 0).collect();
        durations.sort_unstable();
        match durations.get(durations.len() / 2) {
            Some(&d) => f64::from(self.timescale) / f64::from(d),
            None => 0.0,
        }
    }

    /// Lengths (in frames) of the GOPs, each starting at a sync sample.
    pub fn gop_lengths(&self) -> Vec<usize> {
        let mut gops = Vec::new();
        for s in &self.samples {
            match gops.last_mut() {
                Some(n) if !s.is_sync => *n += 1,
                _ => gops.push(1),
            }
        }
        gops
    }
}
