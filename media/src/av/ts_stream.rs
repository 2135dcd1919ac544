//! A live MPEG-TS byte stream (what SRT carries) demuxed by libavformat as
//! it arrives: its first video stream and its first AAC audio stream become
//! [`LiveInput`]s for the live segmenter. libavformat reads through a custom
//! I/O context whose read callback pulls the bytes a protocol task received,
//! so this runs on a thread of its own (it blocks while the publisher is
//! quiet). The MPEG-TS demuxer is libavformat's: TS is a container of many
//! tables, PES framing, wrapping 33-bit clocks and parsers for H.264/HEVC
//! access units and ADTS, which no maintained Rust crate handles as well.

use std::ffi::{c_int, c_void, CString};

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use super::params::CodecParams;
use super::{init, ratio, rescale};
use crate::aac::AacConfig;
use crate::error::{MediaError, Result};
use crate::live_segmenter::{LiveFrame, LiveInput, LiveVideo, LIVE_VIDEO_TIMESCALE};

/// Bytes libavformat may read before it must know the streams (about 2 s of
/// a 8 Mbit/s stream): a live publisher cannot be probed for long.
const PROBE_BYTES: i64 = 2_000_000;
/// Stream time libavformat may look at to find the streams, in microseconds.
const ANALYZE_US: i64 = 2_000_000;
/// Size of the I/O buffer.
const IO_BUFFER: usize = 64 * 1024;

/// Where the bytes come from: the next chunk, blocking until one arrives;
/// `None` at the end of the stream.
pub type ChunkSource = Box<dyn FnMut() -> Option<bytes::Bytes> + Send>;

/// The reader's side: bytes as they arrive, then the end.
struct Source {
    next: ChunkSource,
    pending: bytes::Bytes,
}

/// libavformat's read callback: copies what arrived, blocking until
/// something does; the end of the stream is `AVERROR_EOF`.
unsafe extern "C" fn read_packet(opaque: *mut c_void, buf: *mut u8, size: c_int) -> c_int {
    // SAFETY: `opaque` is the `Source` the demuxer was opened with, alive
    // until the context is freed; `buf` has room for `size` bytes.
    let source = unsafe { &mut *(opaque as *mut Source) };
    while source.pending.is_empty() {
        match (source.next)() {
            Some(chunk) => source.pending = chunk,
            None => return ffi::AVERROR_EOF,
        }
    }
    let n = source.pending.len().min(usize::try_from(size).unwrap_or(0));
    let chunk = source.pending.split_to(n);
    // SAFETY: see above; `n` <= size.
    unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), buf, n) };
    c_int::try_from(n).unwrap_or(0)
}

/// An open demuxer over a custom I/O context, freed in the right order.
struct Demuxer {
    input: Option<ffmpeg::format::context::Input>,
    io: *mut ffi::AVIOContext,
    source: *mut Source,
}

impl Drop for Demuxer {
    fn drop(&mut self) {
        // The format context first (it does not free a custom pb), then the
        // I/O context and its current buffer, then the source.
        drop(self.input.take());
        // SAFETY: `io` and `source` were allocated in `open` and are freed once here.
        unsafe {
            if !self.io.is_null() {
                ffi::av_freep(std::ptr::addr_of_mut!((*self.io).buffer) as *mut c_void);
                ffi::avio_context_free(&mut self.io);
            }
            drop(Box::from_raw(self.source));
        }
    }
}

fn open(next: ChunkSource) -> Result<Demuxer> {
    init();
    let source = Box::into_raw(Box::new(Source { next, pending: bytes::Bytes::new() }));
    // SAFETY: buffers and contexts are allocated by libav*; on every error
    // path what was allocated is owned by `demuxer` and freed by its Drop.
    unsafe {
        let buffer = ffi::av_malloc(IO_BUFFER) as *mut u8;
        let mut demuxer = Demuxer { input: None, io: std::ptr::null_mut(), source };
        if buffer.is_null() {
            return Err(MediaError::Unsupported("out of memory for the MPEG-TS reader".into()));
        }
        demuxer.io = ffi::avio_alloc_context(
            buffer,
            IO_BUFFER as c_int,
            0,
            source as *mut c_void,
            Some(read_packet),
            None,
            None,
        );
        if demuxer.io.is_null() {
            ffi::av_free(buffer as *mut c_void);
            return Err(MediaError::Unsupported("out of memory for the MPEG-TS reader".into()));
        }
        let mut context = ffi::avformat_alloc_context();
        if context.is_null() {
            return Err(MediaError::Unsupported("out of memory for the MPEG-TS demuxer".into()));
        }
        (*context).pb = demuxer.io;
        (*context).flags |= ffi::AVFMT_FLAG_CUSTOM_IO as c_int;
        (*context).probesize = PROBE_BYTES;
        (*context).max_analyze_duration = ANALYZE_US;
        let name = CString::new("mpegts").map_err(|_| MediaError::Unsupported("format name".into()))?;
        let format = ffi::av_find_input_format(name.as_ptr());
        // On failure avformat_open_input frees the context (not our pb).
        let opened = ffi::avformat_open_input(&mut context, std::ptr::null(), format, std::ptr::null_mut());
        if opened < 0 {
            return Err(MediaError::Container(format!("not an MPEG-TS stream: {}", ffmpeg::Error::from(opened))));
        }
        demuxer.input = Some(ffmpeg::format::context::Input::wrap(context));
        let found = ffi::avformat_find_stream_info(context, std::ptr::null_mut());
        if found < 0 {
            return Err(MediaError::Container(format!(
                "could not find the streams of the MPEG-TS stream: {}",
                ffmpeg::Error::from(found)
            )));
        }
        Ok(demuxer)
    }
}

/// One AAC frame out of an ADTS header: its configuration and payload.
fn adts_frame(data: &[u8]) -> Option<(AacConfig, &[u8], usize)> {
    let header = data.get(..7)?;
    if header[0] != 0xff || header[1] & 0xf6 != 0xf0 {
        return None;
    }
    let protection_absent = header[1] & 1 == 1;
    let object_type = (header[2] >> 6) + 1;
    let frequency = (header[2] >> 2) & 0x0f;
    let channels = ((header[2] & 1) << 2) | (header[3] >> 6);
    let length = (usize::from(header[3] & 0x03) << 11) | (usize::from(header[4]) << 3) | usize::from(header[5] >> 5);
    let header_len = if protection_absent { 7 } else { 9 };
    let payload = data.get(header_len..length)?;
    let asc = [(object_type << 3) | (frequency >> 1), ((frequency & 1) << 7) | (channels << 3)];
    Some((AacConfig::from_asc(&asc).ok()?, payload, length))
}

/// Demuxes the stream `next` delivers until it ends or `emit` says stop
/// (returns false), handing over the video's configuration first, then
/// frames and audio in arrival order. Audio in another codec than AAC is
/// left out with one warning; video is required.
pub fn demux_live_ts(next: ChunkSource, emit: &mut dyn FnMut(LiveInput) -> bool) -> Result<()> {
    let mut demuxer = open(next)?;
    let Some(input) = demuxer.input.as_mut() else { return Ok(()) };
    let video = input.streams().best(ffmpeg::media::Type::Video).ok_or_else(|| {
        MediaError::Container("the MPEG-TS stream has no video (an H.264 or HEVC stream is needed)".into())
    })?;
    let video_index = video.index();
    let video_base = (video.time_base().numerator(), video.time_base().denominator());
    let params = CodecParams::from_parameters(&video.parameters());
    let fps = Some(ratio(video.avg_frame_rate())).filter(|f| *f > 0.0).or(Some(ratio(video.rate())));
    let audio = input.streams().best(ffmpeg::media::Type::Audio).map(|a| {
        let codec = CodecParams::from_parameters(&a.parameters()).codec;
        (a.index(), (a.time_base().numerator(), a.time_base().denominator()), codec)
    });
    if !emit(LiveInput::VideoConfig(LiveVideo::from_params(params, fps)?)) {
        return Ok(());
    }
    let audio = match audio {
        Some((index, base, codec)) if codec == "aac" => Some((index, base)),
        Some((_, _, codec)) => {
            let reason = format!("{codec} audio in the MPEG-TS stream: only AAC is supported");
            if !emit(LiveInput::AudioLeftOut(reason)) {
                return Ok(());
            }
            None
        }
        None => None,
    };
    let clock = (1, LIVE_VIDEO_TIMESCALE as i32);
    let mut audio_config: Option<AacConfig> = None;
    for (stream, packet) in input.packets() {
        let index = stream.index();
        let Some(data) = packet.data() else { continue };
        if index == video_index {
            let Some(pts) = packet.pts().or(packet.dts()) else { continue };
            let dts = packet.dts().unwrap_or(pts);
            let frame = LiveFrame {
                dts: rescale(dts, video_base, clock),
                pts: rescale(pts, video_base, clock),
                keyframe: packet.is_key(),
                data: data.to_vec(),
            };
            if !emit(LiveInput::Video(frame)) {
                return Ok(());
            }
        } else if let Some((_, base)) = audio.filter(|(i, _)| *i == index) {
            let Some(pts) = packet.pts().or(packet.dts()) else { continue };
            let mut at = rescale(pts, base, clock);
            let mut rest = data;
            while let Some((config, payload, length)) = adts_frame(rest) {
                if audio_config.as_ref() != Some(&config) {
                    if !emit(LiveInput::AudioConfig(config.clone())) {
                        return Ok(());
                    }
                    audio_config = Some(config.clone());
                }
                if !emit(LiveInput::Audio { pts: at, data: payload.to_vec() }) {
                    return Ok(());
                }
                at += rescale(1024, (1, config.sample_rate as i32), clock);
                rest = &rest[length..];
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adts_headers_give_the_configuration() {
        // AAC-LC, 48 kHz (index 3), stereo, 7-byte header, 10 bytes in all.
        let frame = [0xff, 0xf1, 0x4c, 0x80, 0x01, 0x5f, 0xfc, 1, 2, 3];
        let (config, payload, length) = adts_frame(&frame).unwrap();
        assert_eq!((config.object_type, config.sample_rate, config.channels), (2, 48_000, 2));
        assert_eq!((payload, length), (&[1u8, 2, 3][..], 10));
        assert!(adts_frame(&frame[..8]).is_none(), "a frame cut short");
        assert!(adts_frame(&[0u8; 10]).is_none(), "no sync word");
    }
}
