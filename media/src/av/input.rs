//! An upload opened with libavformat: what it holds ([`MediaInfo`]), the
//! timing of every video packet (for the segmenter), and cutting it into
//! [`SourceSegment`]s.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ffmpeg_next as ffmpeg;
use ffmpeg_next::codec::packet::Ref as _;
use ffmpeg_next::ffi;
use ffmpeg_next::media::Type;

use super::audio::NormalisedAudio;
use super::params::CodecParams;
use super::{init, ratio, rescale};
use crate::error::{FirstBytes, MediaError, Result};
use crate::limits::Limits;
use crate::segmenter::{audio_segment_of, plan_segments, PacketTiming, SegmentSpan};
use crate::source_segment::{
    Normalise, SegmentAudio, SegmentHeader, SegmentPacket, SegmentVideo, SourceSegment, StreamKind,
};

/// Colour description of a video stream, as libavutil names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColorInfo {
    /// Primaries (`bt709`, `bt2020`, `unknown`, ...).
    pub primaries: String,
    /// Transfer (`bt709`, `smpte2084`, `arib-std-b67`, ...).
    pub transfer: String,
    /// Matrix (`bt709`, `bt470bg`, `bt2020nc`, ...).
    pub matrix: String,
    /// Range (`tv`, `pc`, `unknown`).
    pub range: String,
}

/// The video stream of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Stream index in the container.
    pub index: usize,
    /// Codec name (`h264`, `hevc`, `prores`, ...).
    pub codec: String,
    /// Profile name, when the codec has profiles.
    pub profile: Option<String>,
    /// Coded width.
    pub width: u32,
    /// Coded height.
    pub height: u32,
    /// Width as shown: square pixels, rotation applied.
    pub display_width: u32,
    /// Height as shown.
    pub display_height: u32,
    /// Pixel format (`yuv420p`, `yuv422p10le`, ...).
    pub pixel_format: String,
    /// Bits per luma sample.
    pub bit_depth: u8,
    /// Sample aspect ratio (1/1 for square pixels).
    pub sample_aspect_ratio: (i32, i32),
    /// Clockwise rotation a player must apply (0, 90, 180, 270).
    pub rotation: u32,
    /// Coded as interlaced fields.
    pub interlaced: bool,
    /// Colour description.
    pub color: ColorInfo,
    /// Nominal frame rate.
    pub frame_rate: f64,
    /// Time base of its timestamps.
    pub time_base: (i32, i32),
    /// Packets (coded frames).
    pub packets: u64,
    /// Keyframes.
    pub keyframes: u64,
    /// Longest distance between keyframes, in seconds.
    pub max_keyframe_interval_secs: f64,
    /// Shown duration in seconds.
    pub duration_secs: f64,
}

impl VideoInfo {
    /// The HDR transfer this stream uses, if any.
    pub fn hdr_transfer(&self) -> Option<&str> {
        matches!(self.color.transfer.as_str(), "smpte2084" | "arib-std-b67").then_some(self.color.transfer.as_str())
    }
}

/// An audio stream of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioInfo {
    /// Stream index in the container.
    pub index: usize,
    /// Its language as the container tags it (ISO 639-2, e.g. `eng`; `und` and empty left out).
    pub language: Option<String>,
    /// Its title as the container tags it (`Director's commentary`).
    pub title: Option<String>,
    /// The container marks it as the default track.
    pub default: bool,
    /// Codec name (`aac`, `ac3`, `mp3`, `opus`, `pcm_s16le`, ...).
    pub codec: String,
    /// Profile name (`LC`, `HE-AAC`, ...).
    pub profile: Option<String>,
    /// Sampling rate.
    pub sample_rate: u32,
    /// Channels.
    pub channels: u32,
}

/// What an upload holds.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaInfo {
    /// libavformat's container name(s), e.g. `mov,mp4,m4a,3gp,3g2,mj2`.
    pub container: String,
    /// Its long name, e.g. `QuickTime / MOV`.
    pub container_long: String,
    /// The video stream Tessera transcodes.
    pub video: VideoInfo,
    /// Its audio streams, in container order.
    pub audio: Vec<AudioInfo>,
}

/// An opened upload with its video packets indexed.
#[derive(Debug)]
pub struct SourceFile {
    path: PathBuf,
    /// What the file holds.
    pub info: MediaInfo,
    /// Every video packet's timing, in decode order.
    pub packets: Vec<PacketTiming>,
    params: CodecParams,
}

fn cstr(ptr: *const std::os::raw::c_char) -> String {
    if ptr.is_null() {
        return "unknown".into();
    }
    // SAFETY: libav* name functions return static NUL-terminated strings.
    unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned()
}

fn open_input(path: &Path) -> Result<ffmpeg::format::context::Input> {
    init();
    let len = std::fs::metadata(path)?.len();
    if len == 0 {
        return Err(MediaError::Empty);
    }
    ffmpeg::format::input(&path).map_err(|e| {
        // An MP4/MOV whose moov is missing (cut short before it) still starts with ftyp.
        let mut head = Vec::with_capacity(16);
        let _ = std::fs::File::open(path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 16), &mut head));
        if head.get(4..8) == Some(b"ftyp".as_slice()) {
            MediaError::Container(format!("truncated or damaged MP4/MOV file ({len} bytes): {e}"))
        } else {
            MediaError::Unrecognised(FirstBytes(head))
        }
    })
}

/// Opens `path` to read the packets of stream `index` alone: the demuxer
/// skips the other streams' data (a ProRes master's video is not read to
/// get its audio).
pub(crate) fn open_stream(path: &Path, index: usize) -> Result<ffmpeg::format::context::Input> {
    let mut input = open_input(path)?;
    read_only(&mut input, index);
    Ok(input)
}

/// Makes the demuxer skip every stream but `index`.
fn read_only(input: &mut ffmpeg::format::context::Input, index: usize) {
    for i in (0..input.nb_streams() as usize).filter(|&i| i != index) {
        if let Some(mut stream) = input.stream_mut(i) {
            // SAFETY: the stream belongs to `input`, which outlives this write of a plain field.
            unsafe { (*stream.as_mut_ptr()).discard = ffi::AVDiscard::AVDISCARD_ALL };
        }
    }
}

/// Clockwise rotation from a stream's display matrix, as ffmpeg's autorotate reads it.
fn rotation(stream: &ffmpeg::format::stream::Stream) -> u32 {
    for side in stream.side_data() {
        if side.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix && side.data().len() >= 36 {
            let mut matrix = [0i32; 9];
            for (m, chunk) in matrix.iter_mut().zip(side.data().chunks_exact(4)) {
                *m = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            // SAFETY: the matrix holds nine i32 as the function expects.
            let degrees = unsafe { ffi::av_display_rotation_get(matrix.as_ptr()) };
            if !degrees.is_finite() {
                return 0;
            }
            let clockwise = (-degrees.round() as i64).rem_euclid(360);
            return match clockwise {
                45..=134 => 90,
                135..=224 => 180,
                225..=314 => 270,
                _ => 0,
            };
        }
    }
    0
}

/// Reads every packet of the file in order, calling `f` with its stream
/// index. Read errors are skipped as libavformat resyncs past damage, up to a
/// bound, so a corrupt file ends with an error instead of a long loop.
pub(crate) fn read_packets(
    input: &mut ffmpeg::format::context::Input,
    mut f: impl FnMut(usize, &ffmpeg::Packet) -> Result<()>,
) -> Result<()> {
    const MAX_READ_ERRORS: usize = 1000;
    let mut errors = 0usize;
    loop {
        // A fresh packet each time: av_read_frame overwrites the one it is
        // given without releasing its buffer, so reusing one leaks every packet.
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(input) {
            Ok(()) => f(packet.stream(), &packet)?,
            Err(ffmpeg::Error::Eof) => return Ok(()),
            Err(e) => {
                errors += 1;
                if errors > MAX_READ_ERRORS {
                    return Err(MediaError::Container(format!("{errors} read errors, the last: {e}")));
                }
            }
        }
    }
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32 * 2).max(2)
}

impl SourceFile {
    /// Opens an upload, describes it and indexes its video packets; refuses
    /// what cannot be transcoded with an error naming the problem.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self> {
        let mut input = open_input(path)?;
        let format = input.format();
        let (container, container_long) = (format.name().to_string(), format.description().to_string());
        let is_picture = |s: &ffmpeg::format::stream::Stream| {
            s.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC)
        };
        let video_stream = input.streams().find(|s| s.parameters().medium() == Type::Video && !is_picture(s));
        let Some(video_stream) = video_stream else {
            let found: Vec<String> = input
                .streams()
                .map(|s| {
                    format!(
                        "{:?} {}",
                        s.parameters().medium(),
                        cstr(unsafe { ffi::avcodec_get_name((*s.parameters().as_ptr()).codec_id) })
                    )
                    .to_lowercase()
                })
                .collect();
            return Err(MediaError::NoVideoTrack {
                found: if found.is_empty() {
                    format!("no streams in the {container_long} container")
                } else {
                    found.join(", ")
                },
            });
        };
        let parameters = video_stream.parameters();
        let params = CodecParams::from_parameters(&parameters);
        if ffmpeg::codec::decoder::find(parameters.id()).is_none() {
            let tag = params.codec_tag.to_le_bytes();
            let fourcc: String =
                tag.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }).collect();
            return Err(MediaError::UnsupportedCodec {
                kind: "video",
                codec: format!("{} (fourcc '{fourcc}')", params.codec),
            });
        }
        let index = video_stream.index();
        let tb = video_stream.time_base();
        let time_base = (tb.numerator(), tb.denominator());
        if time_base.0 <= 0 || time_base.1 <= 0 {
            return Err(MediaError::Container(format!(
                "the video stream has an invalid time base {}/{}",
                time_base.0, time_base.1
            )));
        }
        // SAFETY: the stream's parameters are valid while `input` lives.
        let (color, interlaced, pixel_format, bit_depth, profile) = unsafe {
            let p = &*parameters.as_ptr();
            let color = ColorInfo {
                primaries: cstr(ffi::av_color_primaries_name(p.color_primaries)),
                transfer: cstr(ffi::av_color_transfer_name(p.color_trc)),
                matrix: cstr(ffi::av_color_space_name(p.color_space)),
                range: cstr(ffi::av_color_range_name(p.color_range)),
            };
            let interlaced = matches!(
                p.field_order,
                ffi::AVFieldOrder::AV_FIELD_TT
                    | ffi::AVFieldOrder::AV_FIELD_BB
                    | ffi::AVFieldOrder::AV_FIELD_TB
                    | ffi::AVFieldOrder::AV_FIELD_BT
            );
            let fmt: ffi::AVPixelFormat =
                std::mem::transmute(p.format.clamp(-1, ffi::AVPixelFormat::AV_PIX_FMT_NB as i32 - 1));
            let pixel_format = cstr(ffi::av_get_pix_fmt_name(fmt));
            let desc = ffi::av_pix_fmt_desc_get(fmt);
            let bit_depth = if desc.is_null() { 0 } else { (*desc).comp[0].depth as u8 };
            let profile = ffi::avcodec_profile_name(p.codec_id, p.profile);
            let profile = (!profile.is_null()).then(|| cstr(profile));
            (color, interlaced, pixel_format, bit_depth, profile)
        };
        let (width, height) = (params.width.max(0) as u32, params.height.max(0) as u32);
        if width == 0 || height == 0 {
            return Err(MediaError::Container(format!("the {} video stream declares no picture size", params.codec)));
        }
        Limits::check("video width", width.into(), limits.max_width.into())?;
        Limits::check("video height", height.into(), limits.max_height.into())?;
        let sar = match params.sample_aspect_ratio {
            (num, den) if num > 0 && den > 0 => (num, den),
            _ => (1, 1),
        };
        let rotation = rotation(&video_stream);
        let shown_width =
            if sar.0 == sar.1 { width } else { even(f64::from(width) * f64::from(sar.0) / f64::from(sar.1)) };
        let (display_width, display_height) =
            if rotation % 180 == 90 { (height & !1, shown_width & !1) } else { (shown_width & !1, height & !1) };
        let mut frame_rate = ratio(video_stream.avg_frame_rate());
        if !(frame_rate.is_finite() && frame_rate > 0.0 && frame_rate <= 1000.0) {
            frame_rate = ratio(video_stream.rate());
        }
        let declared_frames = u64::try_from(video_stream.frames()).unwrap_or(0);
        let audio_streams: Vec<usize> =
            input.streams().filter(|s| s.parameters().medium() == Type::Audio).map(|s| s.index()).collect();
        let audio: Vec<AudioInfo> = audio_streams
            .iter()
            .filter_map(|&i| input.stream(i))
            .map(|s| {
                let p = CodecParams::from_parameters(&s.parameters());
                let tag = |key: &str| {
                    s.metadata().get(key).map(str::trim).filter(|v| !v.is_empty() && *v != "und").map(str::to_string)
                };
                // SAFETY: as above.
                let profile = unsafe {
                    let raw = &*s.parameters().as_ptr();
                    let name = ffi::avcodec_profile_name(raw.codec_id, raw.profile);
                    (!name.is_null()).then(|| cstr(name))
                };
                AudioInfo {
                    index: s.index(),
                    language: tag("language"),
                    title: tag("title").or_else(|| tag("handler_name").filter(|h| !h.ends_with("Handler"))),
                    default: s.disposition().contains(ffmpeg::format::stream::Disposition::DEFAULT),
                    codec: p.codec,
                    profile,
                    sample_rate: p.sample_rate.max(0) as u32,
                    channels: p.channels.max(0) as u32,
                }
            })
            .collect();

        // Index every video packet (no decoding), reading no other stream's data.
        read_only(&mut input, index);
        let mut packets = Vec::new();
        let mut last_pts: Option<i64> = None;
        read_packets(&mut input, |stream, packet| {
            if stream != index {
                return Ok(());
            }
            let n = packets.len();
            let pts = packet.pts().or(packet.dts()).or_else(|| last_pts.map(|p| p + packet.duration().max(1)));
            let Some(pts) = pts else {
                return Err(MediaError::Decode { index: n, pts: 0, reason: "the packet has no timestamp".into() });
            };
            last_pts = Some(pts);
            // SAFETY: the packet is valid; its flags are a plain int.
            let discard = unsafe { (*packet.as_ptr()).flags & ffi::AV_PKT_FLAG_DISCARD != 0 };
            packets.push(PacketTiming {
                pts,
                dts: packet.dts().unwrap_or(pts),
                duration: packet.duration().max(0),
                key: packet.is_key(),
                discard,
            });
            Limits::check("video frame count", packets.len() as u64, limits.max_frames)
        })?;
        if packets.is_empty() {
            return Err(MediaError::Decode {
                index: 0,
                pts: 0,
                reason: format!("the {} video stream has no packets", params.codec),
            });
        }
        if declared_frames > 0 && (packets.len() as u64) < declared_frames {
            return Err(MediaError::IncompleteStream { declared: declared_frames, read: packets.len() as u64 });
        }
        let keys: Vec<i64> = packets.iter().filter(|p| p.key).map(|p| p.pts).collect();
        let max_gap = keys.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
        let (min, max) = packets
            .iter()
            .filter(|p| !p.discard)
            .fold((i64::MAX, i64::MIN), |(lo, hi), p| (lo.min(p.pts), hi.max(p.pts + p.duration)));
        let seconds = |ticks: i64| ticks as f64 * f64::from(time_base.0) / f64::from(time_base.1);
        let duration_secs = if max > min { seconds(max - min) } else { 0.0 };
        Limits::check("duration in seconds", duration_secs as u64, limits.max_duration_secs)?;
        if !(frame_rate.is_finite() && frame_rate > 0.0 && frame_rate <= 1000.0) {
            frame_rate = if duration_secs > 0.0 { packets.len() as f64 / duration_secs } else { 30.0 };
        }
        let video = VideoInfo {
            index,
            codec: params.codec.clone(),
            profile,
            width,
            height,
            display_width,
            display_height,
            pixel_format,
            bit_depth,
            sample_aspect_ratio: sar,
            rotation,
            interlaced,
            color,
            frame_rate,
            time_base,
            packets: packets.len() as u64,
            keyframes: keys.len() as u64,
            max_keyframe_interval_secs: seconds(max_gap),
            duration_secs,
        };
        let info = MediaInfo { container, container_long, video, audio };
        Ok(Self { path: path.to_path_buf(), info, packets, params })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Plans segments of `target` duration.
    pub fn plan(&self, target: Duration) -> Result<Vec<SegmentSpan>> {
        let (num, den) = self.info.video.time_base;
        let ticks = (target.as_secs_f64() * f64::from(den) / f64::from(num)).round() as i64;
        plan_segments(&self.packets, ticks)
    }

    /// The output timescale: the source's own when it is fine-grained, else 90 kHz.
    pub fn timescale(&self) -> u32 {
        match self.info.video.time_base {
            (1, den) if den >= 10_000 => den as u32,
            _ => 90_000,
        }
    }

    /// How a worker normalises this source's pictures.
    pub fn normalise(&self) -> Normalise {
        Normalise {
            rotation: self.info.video.rotation,
            deinterlace: self.info.video.interlaced,
            tone_map: self.info.video.hdr_transfer().map(str::to_string),
            display: (self.info.video.display_width, self.info.video.display_height),
        }
    }

    /// Cuts the planned segments, calling `sink` with each in order; one
    /// read through the file, holding only the packets of segments still open.
    pub fn cut<E: From<MediaError>>(
        &self,
        spans: &[SegmentSpan],
        audio: &[NormalisedAudio],
        mut sink: impl FnMut(SourceSegment) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(first) = spans.first() else { return Ok(()) };
        let origin = first.start;
        let time_base = self.info.video.time_base;
        // Each track's frames per segment, on its rendition's raw timeline.
        let audio_of: Vec<Vec<Vec<usize>>> =
            audio.iter().map(|a| audio_frames_per_segment(a, spans, origin, time_base)).collect();
        let index = self.info.video.index;
        let mut input = open_stream(&self.path, index)?;
        let normalise = self.normalise();
        let mut open: std::collections::VecDeque<(usize, Vec<SegmentPacket>)> = std::collections::VecDeque::new();
        let mut next = 0usize;
        let mut n = 0usize;
        let mut failure: Option<E> = None;
        read_packets(&mut input, |stream, packet| {
            if stream != index || failure.is_some() {
                return Ok(());
            }
            let timing = self.packets.get(n).copied().ok_or_else(|| {
                MediaError::Container(format!("the video stream has more packets on the second read ({n}+)"))
            })?;
            while next < spans.len() && spans[next].decode.start <= n {
                open.push_back((next, Vec::new()));
                next += 1;
            }
            for (k, held) in open.iter_mut() {
                if spans[*k].decode.contains(&n) {
                    held.push(SegmentPacket {
                        stream: StreamKind::Video,
                        key: timing.key,
                        pts: timing.pts,
                        dts: packet.dts().unwrap_or(timing.pts),
                        duration: timing.duration,
                        data: packet.data().unwrap_or_default().to_vec(),
                    });
                }
            }
            n += 1;
            while open.front().is_some_and(|(k, _)| spans[*k].decode.end <= n) {
                let Some((k, video)) = open.pop_front() else { break };
                let frames: Vec<&[usize]> = audio_of.iter().map(|track| track[k].as_slice()).collect();
                if let Err(e) = sink(self.segment(&spans[k], origin, &normalise, video, audio, &frames)?) {
                    failure = Some(e);
                    break;
                }
            }
            Ok(())
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if next < spans.len() || !open.is_empty() {
            return Err(MediaError::Container(format!(
                "the video stream ended after {n} packets on the second read, {} on the first",
                self.packets.len()
            ))
            .into());
        }
        Ok(())
    }

    fn segment(
        &self,
        span: &SegmentSpan,
        origin: i64,
        normalise: &Normalise,
        mut packets: Vec<SegmentPacket>,
        audio: &[NormalisedAudio],
        audio_frames: &[&[usize]],
    ) -> Result<SourceSegment> {
        let config = |a: &NormalisedAudio| SegmentAudio { asc: a.asc.clone(), sample_rate: a.sample_rate };
        let header = SegmentHeader {
            seq: span.seq,
            video: SegmentVideo {
                params: self.params.clone(),
                time_base: self.info.video.time_base,
                timescale: self.timescale(),
                origin,
                start: span.start,
                end: span.end,
                frames: span.frames,
                normalise: normalise.clone(),
            },
            audio: audio.first().map(config),
            other_audio: audio.iter().skip(1).map(config).collect(),
            chunk: None,
        };
        for (track, (a, frames)) in audio.iter().zip(audio_frames).enumerate() {
            let stream = StreamKind::Audio(u8::try_from(track).unwrap_or(u8::MAX));
            packets.extend(frames.iter().filter_map(|&i| a.packets.get(i)).map(|p| SegmentPacket {
                stream,
                key: true,
                pts: p.pts,
                dts: p.pts,
                duration: p.duration,
                data: p.data.clone(),
            }));
        }
        Ok(SourceSegment { header, packets })
    }
}

/// Which of a track's frames go in each segment, on the rendition's raw timeline.
fn audio_frames_per_segment(
    a: &NormalisedAudio,
    spans: &[SegmentSpan],
    origin: i64,
    time_base: (i32, i32),
) -> Vec<Vec<usize>> {
    let mut of: Vec<Vec<usize>> = vec![Vec::new(); spans.len()];
    let rate = (1, a.sample_rate as i32);
    let starts: Vec<i64> =
        spans.iter().map(|s| rescale(s.start - origin, time_base, rate) + a.priming as i64).collect();
    for (i, p) in a.packets.iter().enumerate() {
        of[audio_segment_of(&starts, p.pts, p.duration).min(spans.len() - 1)].push(i);
    }
    // A segment shorter than half an AAC frame (a last segment of one
    // frame at 60 fps) would get none: it takes its neighbour's last.
    for k in 1..of.len() {
        if of[k].is_empty() && of[k - 1].len() > 1 {
            if let Some(moved) = of[k - 1].pop() {
                of[k].push(moved);
            }
        }
    }
    of
}
