//! Each of the upload's audio tracks as an AAC-LC track on the video's clock: AAC-LC is
//! copied as it is; anything else (AC-3, E-AC-3, MP3, Opus, PCM, FLAC, MP2,
//! HE-AAC, AAC in ADTS, audio that starts late, ends early or has gaps) is
//! decoded, resampled to stereo and encoded with FFmpeg's native AAC encoder.
//!
//! It runs once per job on the coordinator (audio is cheap next to video), so
//! every segment's audio comes from one continuous encode with no priming at
//! segment joins.

use ffmpeg_next as ffmpeg;
use ffmpeg_next::ffi;

use super::input::{open_stream, read_packets, AudioInfo, SourceFile};
use super::rescale;
use crate::aac::AacConfig;
use crate::error::{MediaError, Result};
use crate::segmenter::SegmentSpan;

/// Samples per AAC-LC frame.
const AAC_FRAME: i64 = 1024;

/// One AAC frame on the rendition's raw timeline (sample 0 is the first
/// sample of priming; presentation starts at [`NormalisedAudio::priming`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPacket {
    /// Start in samples on the raw timeline (never negative).
    pub pts: i64,
    /// Duration in samples.
    pub duration: i64,
    /// The raw AAC frame.
    pub data: Vec<u8>,
}

/// The job's audio track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalisedAudio {
    /// AudioSpecificConfig.
    pub asc: Vec<u8>,
    /// Sampling rate (the timescale of the packets).
    pub sample_rate: u32,
    /// Encoder priming in samples (the rendition's edit list skips it).
    pub priming: u64,
    /// The frames, in order.
    pub packets: Vec<AudioPacket>,
    /// Average bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// The source's codec, when it was transcoded (None: copied).
    pub transcoded_from: Option<String>,
}

fn av(what: &str) -> impl Fn(ffmpeg::Error) -> MediaError + '_ {
    move |e| MediaError::Decode { index: 0, pts: 0, reason: format!("audio {what}: {e}") }
}

impl NormalisedAudio {
    /// The audio track `audio` of `source` as AAC-LC on the clock of the
    /// planned video `spans`, lasting as long as the video. `bitrate_kbps`
    /// applies when it has to be encoded. None without spans.
    pub fn from_track(
        source: &SourceFile,
        audio: &AudioInfo,
        spans: &[SegmentSpan],
        bitrate_kbps: u32,
    ) -> Result<Option<Self>> {
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            return Ok(None);
        };
        let video_tb = source.info.video.time_base;
        let origin = (first.start, video_tb);
        let video_end = (last.end - first.start, video_tb);
        if let Some(copied) = copy_aac(source, audio.index, origin, video_end)? {
            return Ok(Some(copied));
        }
        encode_aac(source, audio.index, &audio.codec, origin, video_end, bitrate_kbps).map(Some)
    }
}

fn bitrate(packets: &[AudioPacket], sample_rate: u32) -> u32 {
    let bytes: usize = packets.iter().map(|p| p.data.len()).sum();
    let samples: i64 = packets.iter().map(|p| p.duration).sum();
    if samples <= 0 {
        return 0;
    }
    (bytes as f64 * 8.0 * f64::from(sample_rate) / samples as f64 / 1000.0).round() as u32
}

/// AAC-LC with an AudioSpecificConfig, continuous and covering the video:
/// its frames as they are. None when it has to be encoded instead.
fn copy_aac(
    source: &SourceFile,
    index: usize,
    origin: (i64, (i32, i32)),
    video_end: (i64, (i32, i32)),
) -> Result<Option<NormalisedAudio>> {
    let mut input = open_stream(source.path(), index)?;
    let Some(stream) = input.stream(index) else { return Ok(None) };
    let params = super::params::CodecParams::from_parameters(&stream.parameters());
    if params.codec != "aac" {
        return Ok(None);
    }
    let Ok(config) = AacConfig::from_asc(&params.extradata) else { return Ok(None) };
    if config.object_type != 2 || config.sample_rate == 0 {
        return Ok(None);
    }
    let rate = (1, config.sample_rate as i32);
    let tb = stream.time_base();
    let tb = (tb.numerator(), tb.denominator());
    let origin = rescale(origin.0, origin.1, rate);
    let end = rescale(video_end.0, video_end.1, rate);
    let mut packets: Vec<AudioPacket> = Vec::new();
    let mut untimed = false;
    read_packets(&mut input, |s, packet| {
        if s != index {
            return Ok(());
        }
        let Some(pts) = packet.pts().or(packet.dts()) else {
            untimed = true;
            return Ok(());
        };
        let duration = match rescale(packet.duration(), tb, rate) {
            d if d > 0 => d,
            _ => AAC_FRAME,
        };
        packets.push(AudioPacket {
            pts: rescale(pts, tb, rate) - origin,
            duration,
            data: packet.data().unwrap_or_default().to_vec(),
        });
        Ok(())
    })?;
    if untimed {
        return Ok(None);
    }
    let Some(first) = packets.first() else { return Ok(None) };
    // AAC in ADTS (MPEG-TS) carries a header in every frame: encode it instead.
    if packets.iter().any(|p| p.data.len() >= 2 && p.data[0] == 0xff && p.data[1] & 0xf0 == 0xf0) {
        return Ok(None);
    }
    // Priming shows as a negative start (an edit list); more than two frames
    // before the video, or starting after it, is not a plain copy.
    let priming = (-first.pts).max(0);
    let starts_with_video = first.pts <= 0 && priming <= 2 * AAC_FRAME;
    let continuous = packets.windows(2).all(|w| w[1].pts == w[0].pts + w[0].duration);
    let covers = packets.last().is_some_and(|l| l.pts + l.duration >= end - AAC_FRAME);
    if !(starts_with_video && continuous && covers) {
        return Ok(None);
    }
    for p in &mut packets {
        p.pts += priming;
    }
    Ok(Some(NormalisedAudio {
        bitrate_kbps: bitrate(&packets, config.sample_rate),
        asc: config.asc,
        sample_rate: config.sample_rate,
        priming: priming as u64,
        packets,
        transcoded_from: None,
    }))
}

fn channel_layout_name(layout: &ffi::AVChannelLayout) -> String {
    let mut buf = [0 as std::os::raw::c_char; 128];
    // SAFETY: the layout is valid; describe writes at most buf.len() bytes.
    unsafe {
        let mut own: ffi::AVChannelLayout = std::mem::zeroed();
        let layout = if layout.order == ffi::AVChannelOrder::AV_CHANNEL_ORDER_NATIVE {
            layout as *const _
        } else {
            ffi::av_channel_layout_default(&mut own, layout.nb_channels.max(1));
            &own as *const _
        };
        ffi::av_channel_layout_describe(layout, buf.as_mut_ptr(), buf.len());
        std::ffi::CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

/// Decodes the track, resamples it to stereo on the video's clock (silence
/// where it is missing, cut where it runs past the video) and encodes AAC-LC.
fn encode_aac(
    source: &SourceFile,
    index: usize,
    codec_name: &str,
    origin: (i64, (i32, i32)),
    video_end: (i64, (i32, i32)),
    bitrate_kbps: u32,
) -> Result<NormalisedAudio> {
    let mut input = open_stream(source.path(), index)?;
    let stream = input.stream(index).ok_or_else(|| MediaError::Container(format!("audio stream {index} vanished")))?;
    let stb = stream.time_base();
    let stream_tb = (stb.numerator(), stb.denominator());
    let mut context = ffmpeg::codec::Context::from_parameters(stream.parameters()).map_err(av("decoder setup"))?;
    // SAFETY: plain fields of an unopened codec context.
    unsafe {
        let c = &mut *context.as_mut_ptr();
        c.thread_count = 1;
        c.pkt_timebase = ffi::AVRational { num: stb.numerator(), den: stb.denominator() };
        c.flags |= ffi::AV_CODEC_FLAG_BITEXACT as i32;
    }
    let mut decoder = context
        .decoder()
        .audio()
        .map_err(|_| MediaError::UnsupportedCodec { kind: "audio", codec: codec_name.to_string() })?;
    let sample_rate: u32 = match decoder.rate() {
        r @ (44_100 | 48_000) => r,
        _ => 48_000,
    };
    let rate = (1, sample_rate as i32);
    let total = rescale(video_end.0, video_end.1, rate).max(1);

    let aac = ffmpeg::encoder::find(ffmpeg::codec::Id::AAC)
        .ok_or_else(|| MediaError::Encode { codec: "aac", reason: "this FFmpeg has no AAC encoder".into() })?;
    let mut enc_context = ffmpeg::codec::Context::new_with_codec(aac);
    // SAFETY: plain fields of an unopened codec context.
    unsafe {
        let c = &mut *enc_context.as_mut_ptr();
        c.sample_rate = sample_rate as i32;
        c.sample_fmt = ffi::AVSampleFormat::AV_SAMPLE_FMT_FLTP;
        ffi::av_channel_layout_default(&mut c.ch_layout, 2);
        c.bit_rate = i64::from(bitrate_kbps.max(16)) * 1000;
        c.time_base = ffi::AVRational { num: 1, den: sample_rate as i32 };
        c.flags |= (ffi::AV_CODEC_FLAG_BITEXACT | ffi::AV_CODEC_FLAG_GLOBAL_HEADER) as i32;
        c.thread_count = 1;
        c.profile = ffi::FF_PROFILE_AAC_LOW;
    }
    let mut encoder = enc_context
        .encoder()
        .audio()
        .and_then(|e| e.open_as(aac))
        .map_err(|e| MediaError::Encode { codec: "aac", reason: e.to_string() })?;
    // SAFETY: the opened encoder's extradata holds extradata_size bytes.
    let (asc, priming) = unsafe {
        let c = &*encoder.as_ptr();
        (super::copy_extradata(c.extradata, c.extradata_size), c.initial_padding.max(0) as u64)
    };

    let mut graph: Option<ffmpeg::filter::Graph> = None;
    let mut out = Vec::new();
    let mut decoded = ffmpeg::frame::Audio::empty();
    let mut packet_out = ffmpeg::Packet::empty();
    let mut failures = 0usize;
    let mut good = 0usize;

    let mut drain_encoder = |encoder: &mut ffmpeg::encoder::Audio, out: &mut Vec<AudioPacket>| -> Result<()> {
        while encoder.receive_packet(&mut packet_out).is_ok() {
            let pts = packet_out.pts().unwrap_or(0) + priming as i64;
            let duration = if packet_out.duration() > 0 { packet_out.duration() } else { AAC_FRAME };
            out.push(AudioPacket { pts, duration, data: packet_out.data().unwrap_or_default().to_vec() });
        }
        Ok(())
    };
    let mut drain_graph = |graph: &mut ffmpeg::filter::Graph,
                           encoder: &mut ffmpeg::encoder::Audio,
                           out: &mut Vec<AudioPacket>|
     -> Result<()> {
        let mut sink = graph.get("out").ok_or_else(|| MediaError::Encode { codec: "aac", reason: "no sink".into() })?;
        loop {
            // A fresh frame each time (the sink does not release a reused one).
            let mut filtered = ffmpeg::frame::Audio::empty();
            if sink.sink().frame(&mut filtered).is_err() {
                break;
            }
            encoder.send_frame(&filtered).map_err(|e| MediaError::Encode { codec: "aac", reason: e.to_string() })?;
            drain_encoder(encoder, out)?;
        }
        Ok(())
    };
    let origin_in = |frame_pts: i64, in_rate: i32| {
        rescale(frame_pts, stream_tb, (1, in_rate)) - rescale(origin.0, origin.1, (1, in_rate))
    };

    let mut on_frames = |decoder: &mut ffmpeg::decoder::Audio,
                         graph: &mut Option<ffmpeg::filter::Graph>,
                         encoder: &mut ffmpeg::encoder::Audio,
                         out: &mut Vec<AudioPacket>|
     -> Result<()> {
        while decoder.receive_frame(&mut decoded).is_ok() {
            good += 1;
            let in_rate = decoded.rate() as i32;
            if graph.is_none() {
                *graph = Some(build_graph(&decoded, sample_rate, total)?);
            }
            let Some(g) = graph.as_mut() else { break };
            let pts = decoded.timestamp().map(|t| origin_in(t, in_rate));
            decoded.set_pts(pts);
            let mut src = g.get("in").ok_or_else(|| MediaError::Encode { codec: "aac", reason: "no source".into() })?;
            src.source().add(&decoded).map_err(av("filter"))?;
            drain_graph(g, encoder, out)?;
        }
        Ok(())
    };
    read_packets(&mut input, |s, packet| {
        if s != index {
            return Ok(());
        }
        if decoder.send_packet(packet).is_err() {
            failures += 1;
            return Ok(());
        }
        on_frames(&mut decoder, &mut graph, &mut encoder, &mut out)
    })?;
    let _ = decoder.send_eof();
    on_frames(&mut decoder, &mut graph, &mut encoder, &mut out)?;
    let Some(mut g) = graph else {
        return Err(MediaError::Decode {
            index: 0,
            pts: 0,
            reason: format!("the {codec_name} audio track decoded to nothing ({failures} packets refused)"),
        });
    };
    if good == 0 {
        return Err(MediaError::Decode { index: 0, pts: 0, reason: format!("no {codec_name} audio frame decoded") });
    }
    if let Some(mut src) = g.get("in") {
        src.source().flush().map_err(av("filter flush"))?;
    }
    drain_graph(&mut g, &mut encoder, &mut out)?;
    encoder.send_eof().map_err(|e| MediaError::Encode { codec: "aac", reason: e.to_string() })?;
    drain_encoder(&mut encoder, &mut out)?;
    Ok(NormalisedAudio {
        bitrate_kbps,
        asc,
        sample_rate,
        priming,
        packets: out,
        transcoded_from: Some(codec_name.to_string()),
    })
}

/// `abuffer -> aresample (to the video clock, gaps filled) -> stereo fltp ->
/// padded and trimmed to the video's length -> 1024-sample frames -> abuffersink`.
fn build_graph(first: &ffmpeg::frame::Audio, sample_rate: u32, total: i64) -> Result<ffmpeg::filter::Graph> {
    let fail = |e: ffmpeg::Error| MediaError::Encode { codec: "aac", reason: format!("audio filter graph: {e}") };
    // SAFETY: the frame is a valid decoded frame.
    let (format_name, layout) = unsafe {
        let f = &*first.as_ptr();
        let fmt: ffi::AVSampleFormat =
            std::mem::transmute(f.format.clamp(-1, ffi::AVSampleFormat::AV_SAMPLE_FMT_NB as i32 - 1));
        let name = ffi::av_get_sample_fmt_name(fmt);
        let name = if name.is_null() {
            "fltp".to_string()
        } else {
            std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
        };
        (name, channel_layout_name(&f.ch_layout))
    };
    let in_rate = first.rate();
    let args = format!("time_base=1/{in_rate}:sample_rate={in_rate}:sample_fmt={format_name}:channel_layout={layout}");
    let mut graph = ffmpeg::filter::Graph::new();
    let abuffer = ffmpeg::filter::find("abuffer")
        .ok_or_else(|| MediaError::Encode { codec: "aac", reason: "no abuffer filter".into() })?;
    let sink = ffmpeg::filter::find("abuffersink")
        .ok_or_else(|| MediaError::Encode { codec: "aac", reason: "no abuffersink filter".into() })?;
    graph.add(&abuffer, "in", &args).map_err(fail)?;
    graph.add(&sink, "out", "").map_err(fail)?;
    let spec = format!(
        "aresample={sample_rate}:async=1:first_pts=0,aformat=sample_fmts=fltp:sample_rates={sample_rate}:channel_layouts=stereo,\
         apad=whole_len={total},atrim=end_sample={total},asetnsamples=n={AAC_FRAME}:p=0"
    );
    graph.output("in", 0).and_then(|p| p.input("out", 0)).and_then(|p| p.parse(&spec)).map_err(fail)?;
    graph.validate().map_err(fail)?;
    Ok(graph)
}
