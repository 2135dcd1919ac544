//! A source segment's video decoded with libavcodec and normalised with one
//! libavfilter graph per task: deinterlace (bwdif, one frame per frame),
//! tone-map HDR to SDR BT.709 (zscale + tonemap), rotate (transpose), scale to
//! the rung's size with square pixels, and convert to 8-bit 4:2:0 BT.709
//! limited range, which the encoders and init segments then signal. Frames stream through one at a time; only the frames the
//! segment shows (its `[start, end)`) reach the graph.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use super::params::CodecParams;
use super::{init, rescale};
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;
use crate::source_segment::{SegmentPacket, SegmentVideo, SourceSegment};

fn decode_error(index: usize, pts: i64) -> impl Fn(ffmpeg::Error) -> MediaError {
    move |e| MediaError::Decode { index, pts, reason: e.to_string() }
}

fn graph_error(e: ffmpeg::Error) -> MediaError {
    MediaError::Encode { codec: "filter", reason: format!("video filter graph: {e}") }
}

/// The matrix an untagged picture is read with: what players assume, BT.709
/// from 720 lines up and BT.601 below (swscale alone would assume BT.601 always).
fn untagged_matrix(height: u32) -> &'static str {
    if height >= 720 {
        "bt709"
    } else {
        "bt601"
    }
}

/// The filter chain after the buffer source, for a picture of the given shape
/// (`untagged`: the source names no colour matrix and is this many lines high).
fn filter_chain(video: &SegmentVideo, size: (u32, u32), untagged: Option<u32>) -> String {
    let n = &video.normalise;
    let mut chain: Vec<String> = Vec::new();
    if n.deinterlace {
        // One frame out per frame in: the source's frame rate, frame count and timestamps hold.
        chain.push("bwdif=mode=send_frame:parity=auto:deint=all".into());
    }
    if let Some(transfer) = &n.tone_map {
        chain.push(format!(
            "zscale=tin={transfer}:pin=bt2020:min=bt2020nc:t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,\
             tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv,format=yuv420p"
        ));
    }
    match n.rotation {
        90 => chain.push("transpose=clock".into()),
        180 => chain.push("hflip,vflip".into()),
        270 => chain.push("transpose=cclock".into()),
        _ => {}
    }
    let input = untagged.map(|h| format!(":in_color_matrix={}", untagged_matrix(h))).unwrap_or_default();
    chain.push(format!(
        "scale=w={}:h={}:flags=bicubic+accurate_rnd+full_chroma_int+bitexact{input}:out_color_matrix=bt709:out_range=tv",
        size.0, size.1
    ));
    chain.push("format=yuv420p,setsar=1".into());
    chain.join(",")
}

fn build_graph(video: &SegmentVideo, first: &ffmpeg::frame::Video, size: (u32, u32)) -> Result<ffmpeg::filter::Graph> {
    let sar = first.aspect_ratio();
    let (sar_num, sar_den) = if sar.numerator() > 0 && sar.denominator() > 0 {
        (sar.numerator(), sar.denominator())
    } else {
        match video.params.sample_aspect_ratio {
            (n, d) if n > 0 && d > 0 => (n, d),
            _ => (1, 1),
        }
    };
    // SAFETY: reading the frame's pixel format number.
    let format = unsafe { (*first.as_ptr()).format };
    let args = format!(
        "video_size={}x{}:pix_fmt={format}:time_base={}/{}:pixel_aspect={sar_num}/{sar_den}",
        first.width(),
        first.height(),
        video.time_base.0,
        video.time_base.1
    );
    let mut graph = ffmpeg::filter::Graph::new();
    // SAFETY: a plain field of the graph: one thread, so a task uses one core.
    unsafe { (*graph.as_mut_ptr()).nb_threads = 1 };
    let buffer = ffmpeg::filter::find("buffer").ok_or_else(|| graph_error(ffmpeg::Error::FilterNotFound))?;
    let sink = ffmpeg::filter::find("buffersink").ok_or_else(|| graph_error(ffmpeg::Error::FilterNotFound))?;
    graph.add(&buffer, "in", &args).map_err(graph_error)?;
    graph.add(&sink, "out", "").map_err(graph_error)?;
    let untagged = (first.color_space() == ffmpeg::color::Space::Unspecified).then(|| first.height());
    let chain = filter_chain(video, size, untagged);
    graph.output("in", 0).and_then(|p| p.input("out", 0)).and_then(|p| p.parse(&chain)).map_err(graph_error)?;
    graph.validate().map_err(graph_error)?;
    Ok(graph)
}

/// The most `cc_data` triplets one picture carries: A/53's `cc_count` has 5 bits.
const MAX_CC_TRIPLETS: usize = 31;

/// Appends a dropped picture's captions to a kept one's, within A/53's limit.
fn merge_captions(kept: &mut Vec<u8>, dropped: &[u8]) {
    let room = (MAX_CC_TRIPLETS * 3).saturating_sub(kept.len());
    kept.extend_from_slice(&dropped[..dropped.len().min(room) / 3 * 3]);
}

/// The A/53 closed captions a decoded (and filtered) picture carries.
fn captions_of(frame: &ffmpeg::frame::Video) -> Vec<u8> {
    // SAFETY: reads side data the frame owns, for as long as the frame is borrowed.
    unsafe {
        let side = ffi::av_frame_get_side_data(frame.as_ptr(), ffi::AVFrameSideDataType::AV_FRAME_DATA_A53_CC);
        if side.is_null() || (*side).data.is_null() {
            return Vec::new();
        }
        let bytes = std::slice::from_raw_parts((*side).data, (*side).size as usize);
        bytes[..bytes.len() / 3 * 3].to_vec()
    }
}

/// Frames on their way out: each is emitted once the next one fixes its duration.
struct Emitter<'a> {
    video: &'a SegmentVideo,
    held: Option<YuvFrame>,
    emitted: usize,
    sink: &'a mut dyn FnMut(YuvFrame) -> Result<()>,
}

impl Emitter<'_> {
    fn push(&mut self, mut frame: YuvFrame) -> Result<()> {
        if let Some(mut previous) = self.held.take() {
            if frame.pts <= previous.pts {
                // A repeated timestamp: keep the first picture, and its captions with the dropped one's.
                merge_captions(&mut previous.captions, &frame.captions);
                self.held = Some(previous);
                return Ok(());
            }
            previous.duration = u32::try_from(frame.pts - previous.pts).unwrap_or(u32::MAX);
            self.emitted += 1;
            (self.sink)(previous)?;
        } else {
            // The first frame starts the segment exactly.
            frame.pts = self.video.out_ticks(self.video.start);
        }
        self.held = Some(frame);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(mut last) = self.held.take() {
            let end = self.video.out_ticks(self.video.end);
            last.duration = u32::try_from((end - last.pts).max(1)).unwrap_or(u32::MAX);
            self.emitted += 1;
            (self.sink)(last)?;
        }
        Ok(())
    }
}

fn drain_graph(graph: &mut ffmpeg::filter::Graph, emitter: &mut Emitter<'_>) -> Result<()> {
    let mut sink = graph.get("out").ok_or_else(|| graph_error(ffmpeg::Error::FilterNotFound))?;
    let mut sink = sink.sink();
    let tb = sink.time_base();
    let tb = if tb.denominator() > 0 { (tb.numerator(), tb.denominator()) } else { emitter.video.time_base };
    loop {
        // A fresh frame each time: the sink moves its picture in without
        // releasing what the frame held (av_frame_move_ref), so reusing one leaks.
        let mut frame = ffmpeg::frame::Video::empty();
        if sink.frame(&mut frame).is_err() {
            break;
        }
        let out = &frame;
        let pts = out.pts().unwrap_or(emitter.video.start);
        let source_pts = rescale(pts, tb, emitter.video.time_base);
        let mut frame = YuvFrame::from_strided(
            out.width(),
            out.height(),
            [out.data(0), out.data(1), out.data(2)],
            [out.stride(0), out.stride(1), out.stride(2)],
            emitter.video.out_ticks(source_pts),
            0,
        )?;
        frame.captions = captions_of(out);
        emitter.push(frame)?;
    }
    Ok(())
}

/// The picture size a decoder reads from the configuration alone (the
/// sequence parameters in an hvcC, or the sequence header in an av1C), for
/// live streams whose container says nothing else. No picture is decoded.
pub fn configured_size(params: &CodecParams) -> Result<(u32, u32)> {
    init();
    let unsupported = |reason: String| MediaError::UnsupportedCodec { kind: "video", codec: reason };
    let mut context = ffmpeg::codec::Context::from_parameters(params.to_parameters()?)
        .map_err(|e| unsupported(format!("{} ({e})", params.codec)))?;
    // SAFETY: a plain field of an unopened codec context.
    unsafe { (*context.as_mut_ptr()).thread_count = 1 };
    let decoder = context.decoder().video().map_err(|e| unsupported(format!("{} ({e})", params.codec)))?;
    match (decoder.width(), decoder.height()) {
        (w, h) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(MediaError::Unsupported(format!(
            "the {} configuration record does not give the picture size",
            params.codec
        ))),
    }
}

/// Decodes the segment's video and hands every frame it shows, normalised
/// and scaled to `size`, to `sink` in presentation order, timed in the
/// segment's output timescale from the source's time 0 (durations tile
/// `[start, end)` exactly). Returns the number of frames.
pub fn decode_video(
    segment: &SourceSegment,
    size: (u32, u32),
    sink: &mut dyn FnMut(YuvFrame) -> Result<()>,
) -> Result<usize> {
    decode_video_packets(&segment.header.video, segment.video().map(Ok), size, sink)
}

/// [`decode_video`] over packets that may still be arriving (a streamed
/// live segment's chunks): `packets` yields the video packets in decode
/// order and ends with the segment. With `video.frames` 0 (not known yet)
/// the frame count is not checked.
pub fn decode_video_packets<P: std::borrow::Borrow<SegmentPacket>>(
    video: &SegmentVideo,
    packets: impl Iterator<Item = Result<P>>,
    size: (u32, u32),
    sink: &mut dyn FnMut(YuvFrame) -> Result<()>,
) -> Result<usize> {
    init();
    let mut context = ffmpeg::codec::Context::from_parameters(video.params.to_parameters()?)
        .map_err(|e| MediaError::UnsupportedCodec { kind: "video", codec: format!("{} ({e})", video.params.codec) })?;
    // SAFETY: plain fields of an unopened codec context.
    unsafe {
        let c = &mut *context.as_mut_ptr();
        c.thread_count = 1;
        c.flags |= ffi::AV_CODEC_FLAG_BITEXACT as i32;
        // Frames after a non-IDR keyframe (an open GOP) are output too; the
        // segmenter never asks for one that references before its keyframe.
        c.flags2 |= ffi::AV_CODEC_FLAG2_SHOW_ALL;
        c.pkt_timebase = ffi::AVRational { num: video.time_base.0, den: video.time_base.1 };
    }
    let mut decoder = context
        .decoder()
        .video()
        .map_err(|_| MediaError::UnsupportedCodec { kind: "video", codec: video.params.codec.clone() })?;
    let mut emitter = Emitter { video, held: None, emitted: 0, sink };
    let mut graph: Option<ffmpeg::filter::Graph> = None;
    let mut decoded = ffmpeg::frame::Video::empty();
    let mut last_error: Option<MediaError> = None;

    let mut take_frames = |decoder: &mut ffmpeg::decoder::Video,
                           graph: &mut Option<ffmpeg::filter::Graph>,
                           emitter: &mut Emitter<'_>|
     -> Result<()> {
        while decoder.receive_frame(&mut decoded).is_ok() {
            let Some(pts) = decoded.timestamp().or(decoded.pts()) else { continue };
            if pts < video.start || pts >= video.end {
                continue;
            }
            if graph.is_none() {
                *graph = Some(build_graph(video, &decoded, size)?);
            }
            let Some(g) = graph.as_mut() else { continue };
            decoded.set_pts(Some(pts));
            let mut src = g.get("in").ok_or_else(|| graph_error(ffmpeg::Error::FilterNotFound))?;
            src.source().add(&decoded).map_err(graph_error)?;
            drain_graph(g, emitter)?;
        }
        Ok(())
    };

    for (index, p) in packets.enumerate() {
        let p = p?;
        let p = p.borrow();
        let mut packet = ffmpeg::Packet::copy(&p.data);
        packet.set_pts(Some(p.pts));
        packet.set_dts(Some(p.dts));
        packet.set_duration(p.duration);
        if p.key {
            packet.set_flags(ffmpeg::codec::packet::Flags::KEY);
        }
        // Pre-roll pictures nothing references are never shown: skip decoding them.
        let skip =
            if p.pts < video.start { ffi::AVDiscard::AVDISCARD_NONREF } else { ffi::AVDiscard::AVDISCARD_DEFAULT };
        // SAFETY: a plain field of the open decoder, read per packet (one thread, no frame threading).
        unsafe { (*decoder.as_mut_ptr()).skip_frame = skip };
        if let Err(e) = decoder.send_packet(&packet) {
            // A damaged packet: the frame count check below says whether it mattered.
            last_error = Some(decode_error(index, p.pts)(e));
        }
        take_frames(&mut decoder, &mut graph, &mut emitter)?;
    }
    decoder.send_eof().map_err(decode_error(0, video.end))?;
    take_frames(&mut decoder, &mut graph, &mut emitter)?;
    if let Some(g) = graph.as_mut() {
        if let Some(mut src) = g.get("in") {
            src.source().flush().map_err(graph_error)?;
        }
        drain_graph(g, &mut emitter)?;
    }
    emitter.finish()?;
    let shown = emitter.emitted;
    if shown < video.frames {
        let reason = match last_error {
            Some(e) => format!("decoded {shown} of the segment's {} frames ({e})", video.frames),
            None => format!("decoded {shown} of the segment's {} frames", video.frames),
        };
        return Err(MediaError::Decode { index: 0, pts: video.start, reason });
    }
    Ok(shown)
}
