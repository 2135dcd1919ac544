//! Cuts a live stream into the same self-contained source segments as VOD
//! (`source_segment.rs`), as its frames arrive, whatever brought them (RTMP's
//! FLV tags, SRT's MPEG-TS): [`LiveInput`] is what a protocol hands over,
//! video in decode order on a 90 kHz clock with any origin, audio as AAC
//! frames. Segments are cut on the target's grid by the shared
//! [`Segmenter`]. Video is timed on a 90 kHz clock from the first keyframe;
//! audio on its sample clock, frame after frame (1024 samples each),
//! resynchronised to the stream's times only after a gap.

use std::collections::VecDeque;
use std::time::Duration;

use crate::aac::AacConfig;
use crate::av::params::CodecParams;
use crate::error::{MediaError, Result};
use crate::h264::config::AvcConfig;
use crate::segmenter::{PacketTiming, SegmentSpan, Segmenter};
use crate::source_segment::{
    Normalise, SegmentAudio, SegmentHeader, SegmentPacket, SegmentVideo, SourceChunk, SourceSegment, StreamKind,
};

/// The video timescale of live source segments.
pub const LIVE_VIDEO_TIMESCALE: u32 = 90_000;
/// Samples per AAC frame.
const AAC_FRAME: i64 = 1024;
/// Audio further than this from its expected time is resynchronised.
const AUDIO_RESYNC_MS: i64 = 200;
/// A segment may not grow beyond this many seconds (no keyframe, stuck clock).
const MAX_SEGMENT_SECS: i64 = 30;
/// ... nor beyond this many frames (timestamps that do not advance).
const MAX_SEGMENT_FRAMES: usize = 30 * 240;
/// Video timestamps may step back this far (reordering jitter) before it is an error.
const MAX_BACKWARDS_MS: i64 = 1000;

/// One video frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveFrame {
    /// Decode time on the 90 kHz clock (any origin).
    pub dts: i64,
    /// Presentation time on the 90 kHz clock (same origin).
    pub pts: i64,
    /// True for a keyframe (a point a decoder can start from).
    pub keyframe: bool,
    /// The access unit, framed as the configuration says (length-prefixed
    /// NAL units with an avcC/hvcC, Annex B from MPEG-TS, AV1 OBUs).
    pub data: Vec<u8>,
}

impl LiveFrame {
    /// A frame timed in milliseconds, as RTMP times them.
    pub fn from_ms(dts_ms: i64, composition_ms: i32, keyframe: bool, data: Vec<u8>) -> Self {
        let dts = ms_to_ticks(dts_ms, LIVE_VIDEO_TIMESCALE);
        Self { dts, pts: dts + ms_to_ticks(i64::from(composition_ms), LIVE_VIDEO_TIMESCALE), keyframe, data }
    }
}

/// A publisher's video: what a worker's decoder needs, and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveVideo {
    /// Codec and out-of-band configuration (size filled in).
    pub params: CodecParams,
    /// Picture width as coded.
    pub width: u32,
    /// Picture height as coded.
    pub height: u32,
    /// Frame rate the stream declares, if it does.
    pub fps: Option<f64>,
}

impl LiveVideo {
    /// H.264 from an avcC (RTMP's AVC sequence header).
    pub fn avc(config: &AvcConfig) -> Result<Self> {
        config.check_supported()?;
        let info = config.sps_info()?;
        let params = CodecParams::h264(config.to_record()?, info.width, info.height);
        Ok(Self { params, width: info.width, height: info.height, fps: info.fps })
    }

    /// Any codec libavcodec decodes, from its parameters; a size the
    /// parameters lack is read from the configuration record by opening the
    /// decoder (HEVC's hvcC and AV1's av1C carry it).
    pub fn from_params(mut params: CodecParams, fps: Option<f64>) -> Result<Self> {
        let (width, height) = match (u32::try_from(params.width), u32::try_from(params.height)) {
            (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
            _ => crate::av::video::configured_size(&params)?,
        };
        params.width = i32::try_from(width).unwrap_or(0);
        params.height = i32::try_from(height).unwrap_or(0);
        Ok(Self { params, width, height, fps: fps.filter(|f| f.is_finite() && *f > 0.0) })
    }

    /// "HEVC 1280x720", for channel state and messages.
    pub fn describe(&self) -> String {
        let name = match self.params.codec.as_str() {
            "h264" => "H.264",
            "hevc" => "HEVC",
            "av1" => "AV1",
            other => other,
        };
        format!("{name} {}x{}", self.width, self.height)
    }
}

/// What an ingest protocol hands the cutter, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveInput {
    /// The video's decoder configuration (first, and again on a reconnect).
    VideoConfig(LiveVideo),
    /// A video frame.
    Video(LiveFrame),
    /// The audio's AAC configuration.
    AudioConfig(AacConfig),
    /// One raw AAC frame at `pts` on the 90 kHz clock (the video's origin).
    Audio {
        /// Presentation time, 90 kHz.
        pts: i64,
        /// The raw frame.
        data: Vec<u8>,
    },
    /// The stream's audio cannot be used (named); the broadcast goes on without it.
    AudioLeftOut(String),
}

/// A finished source segment.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSegment {
    /// Segment number from 0.
    pub seq: u32,
    /// The source segment (init + one fragment, video and audio).
    pub bytes: Vec<u8>,
    /// Presentation start, seconds from the first keyframe.
    pub start_secs: f64,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Video frames in it.
    pub frames: usize,
    /// The video it was cut from.
    pub video: LiveVideo,
    /// Bytes of AAC audio in it (0: none).
    pub audio_bytes: u64,
}

/// The cutter for one broadcast.
#[derive(Debug)]
pub struct LiveSegmenter {
    /// The cut rule, shared with uploads.
    segmenter: Segmenter,
    video_config: Option<LiveVideo>,
    audio_config: Option<AacConfig>,
    /// The first keyframe's decode time (90 kHz): the broadcast's time 0.
    origin: Option<i64>,
    /// Frames a segment still to close may need, from decode index `first_index`.
    video: VecDeque<SegmentPacket>,
    first_index: usize,
    audio: Vec<(i64, Vec<u8>)>,
    next_audio: Option<i64>,
    /// Where this publish's time 0 falls on the broadcast's timeline (seconds).
    offset_secs: f64,
    target: i64,
    first_seq: u32,
    /// Low-latency channels: segments also stream out in chunks as they are cut.
    streaming: Option<Streaming>,
}

/// The state of segments streamed as they are cut.
#[derive(Debug)]
struct Streaming {
    /// A chunk is cut once it holds this much video (90 kHz ticks).
    chunk_ticks: i64,
    /// The first keyframe's presentation time: the grid's origin.
    grid_origin: Option<i64>,
    /// The next segment to open.
    next_open: u32,
    /// Segments opened and not yet fully streamed.
    open: Vec<OpenSegment>,
    /// Segments opened since [`LiveSegmenter::take_opened`] was last called.
    opened: Vec<u32>,
}

/// A segment being streamed.
#[derive(Debug)]
struct OpenSegment {
    seq: u32,
    /// Its range on the grid (90 kHz): the frames it shows are those presenting in it.
    start: i64,
    end: i64,
    /// Packets not yet in a chunk.
    pending: Vec<SegmentPacket>,
    next_chunk: u32,
    /// Once closed: its exact start, end and frame count.
    closed: Option<(i64, i64, usize)>,
}

/// One chunk of a streamed segment (a source segment of the packets that
/// arrived since the chunk before, `header.chunk` set).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveChunk {
    /// The segment.
    pub seq: u32,
    /// The chunk's number within it.
    pub index: u32,
    /// True for the segment's last chunk.
    pub last: bool,
    /// The chunk as a source segment.
    pub bytes: Vec<u8>,
}

fn ms_to_ticks(ms: i64, timescale: u32) -> i64 {
    ms * i64::from(timescale) / 1000
}

impl LiveSegmenter {
    /// A cutter aiming at `target` per segment, numbering from `first_seq`.
    pub fn new(target: Duration, first_seq: u32) -> Self {
        Self::resume(target, first_seq, 0.0)
    }

    /// A cutter continuing a broadcast whose timeline reached `offset_secs`
    /// (a publisher that reconnected): its first keyframe lands there.
    pub fn resume(target: Duration, first_seq: u32, offset_secs: f64) -> Self {
        let target_ms = i64::try_from(target.as_millis()).unwrap_or(i64::MAX / 1000);
        Self {
            segmenter: Segmenter::new(ms_to_ticks(target_ms, LIVE_VIDEO_TIMESCALE), first_seq),
            video_config: None,
            audio_config: None,
            origin: None,
            video: VecDeque::new(),
            first_index: 0,
            audio: Vec::new(),
            next_audio: None,
            offset_secs: offset_secs.max(0.0),
            target: ms_to_ticks(target_ms, LIVE_VIDEO_TIMESCALE).max(1),
            first_seq,
            streaming: None,
        }
    }

    /// Also streams each segment as it is cut, in chunks of about `chunk`
    /// of video: a segment opens (see [`Self::take_opened`]) with its first
    /// frame, and its chunks ([`Self::take_chunks`]) carry its packets from
    /// the keyframe it decodes from, then every packet as it arrives, until
    /// the chunk that closes it.
    pub fn streaming(mut self, chunk: Duration) -> Self {
        let chunk_ms = i64::try_from(chunk.as_millis()).unwrap_or(1000);
        self.streaming = Some(Streaming {
            chunk_ticks: ms_to_ticks(chunk_ms, LIVE_VIDEO_TIMESCALE).max(1),
            grid_origin: None,
            next_open: self.first_seq,
            open: Vec::new(),
            opened: Vec::new(),
        });
        self
    }

    /// Segments that opened since the last call (streaming only).
    pub fn take_opened(&mut self) -> Vec<u32> {
        self.streaming.as_mut().map(|s| std::mem::take(&mut s.opened)).unwrap_or_default()
    }

    /// The chunks ready to go: every segment's first chunk at once, later
    /// ones when they hold a chunk's worth of video, all pending packets
    /// when `all`, and a closed segment's last chunk. Stamped `now_ms`.
    pub fn take_chunks(&mut self, all: bool, now_ms: u64) -> Result<Vec<LiveChunk>> {
        let Some(streaming) = self.streaming.as_mut() else { return Ok(Vec::new()) };
        let chunk_ticks = streaming.chunk_ticks;
        let mut ready = Vec::new();
        for open in &mut streaming.open {
            let video: Vec<&SegmentPacket> = open.pending.iter().filter(|p| p.stream == StreamKind::Video).collect();
            let span = match (video.first(), video.last()) {
                (Some(first), Some(last)) => last.dts - first.dts,
                _ => 0,
            };
            let due = open.next_chunk == 0 || span >= chunk_ticks || (all && !open.pending.is_empty());
            if open.closed.is_none() && !due {
                continue;
            }
            let (start, end, frames) = open.closed.unwrap_or((open.start, open.end, 0));
            let chunk = SourceChunk { index: open.next_chunk, last: open.closed.is_some(), cut_at_ms: now_ms };
            ready.push((open.seq, start, end, frames, chunk, std::mem::take(&mut open.pending)));
            open.next_chunk += 1;
        }
        streaming.open.retain(|o| o.closed.is_none());
        ready
            .into_iter()
            .map(|(seq, start, end, frames, chunk, packets)| {
                let header = self.header(seq, start, end, frames, self.audio_config.as_ref(), Some(chunk))?;
                let bytes = SourceSegment { header, packets }.to_bytes()?;
                Ok(LiveChunk { seq, index: chunk.index, last: chunk.last, bytes })
            })
            .collect()
    }

    /// Streaming: the packet goes to every open segment, and opens the
    /// segments whose grid start it reaches, from the keyframe before.
    fn stream_video(&mut self, packet: &SegmentPacket) {
        let Some(streaming) = self.streaming.as_mut() else { return };
        let origin = *streaming.grid_origin.get_or_insert(packet.pts);
        for open in streaming.open.iter_mut().filter(|o| o.closed.is_none()) {
            open.pending.push(packet.clone());
        }
        loop {
            let start = origin + i64::from(streaming.next_open - self.first_seq) * self.target;
            if packet.pts < start {
                break;
            }
            let from = self.video.iter().rposition(|p| p.key && p.pts <= start).unwrap_or(0);
            let pending: Vec<SegmentPacket> = self.video.range(from..).cloned().collect();
            let seq = streaming.next_open;
            streaming.open.push(OpenSegment {
                seq,
                start,
                end: start + self.target,
                pending,
                next_chunk: 0,
                closed: None,
            });
            streaming.opened.push(seq);
            streaming.next_open += 1;
        }
    }

    fn offset(&self, timescale: u32) -> i64 {
        (self.offset_secs * f64::from(timescale)).round() as i64
    }

    /// Number of the next segment to be cut.
    pub fn next_seq(&self) -> u32 {
        self.segmenter.next_seq()
    }

    /// Takes one input; returns the segments it completes.
    pub fn push(&mut self, input: LiveInput) -> Result<Vec<LiveSegment>> {
        match input {
            LiveInput::VideoConfig(config) => self.set_video_config(config).map(|()| Vec::new()),
            LiveInput::Video(frame) => self.push_video(frame),
            LiveInput::AudioConfig(config) => {
                self.set_audio_config(config);
                Ok(Vec::new())
            }
            LiveInput::Audio { pts, data } => self.push_audio(pts, data).map(|()| Vec::new()),
            LiveInput::AudioLeftOut(_) => Ok(Vec::new()),
        }
    }

    /// Sets the video decoder configuration. A different configuration
    /// mid-broadcast is refused: every segment of a rendition decodes with one.
    pub fn set_video_config(&mut self, config: LiveVideo) -> Result<()> {
        match &self.video_config {
            Some(current)
                if (current.params.codec != config.params.codec || current.params.extradata != config.params.extradata)
                    && self.origin.is_some() =>
            {
                Err(MediaError::Unsupported(
                "the video parameter sets changed mid-broadcast (resolution or profile change): start a new broadcast"
                    .into(),
                ))
            }
            _ => {
                self.video_config = Some(config);
                Ok(())
            }
        }
    }

    /// Sets the audio configuration (an AAC sequence header).
    pub fn set_audio_config(&mut self, config: AacConfig) {
        self.audio_config = Some(config);
    }

    /// Adds a video frame; returns the segments it completes. Frames before
    /// the first keyframe are dropped (nothing can decode them). Segments are
    /// cut on the target's grid whatever the keyframes: one that starts
    /// between keyframes carries the frames from the keyframe before it.
    pub fn push_video(&mut self, frame: LiveFrame) -> Result<Vec<LiveSegment>> {
        if self.video_config.is_none() {
            return Err(MediaError::Unsupported("a video frame came before the video's sequence header".into()));
        }
        let origin = match self.origin {
            Some(origin) => origin,
            None if frame.keyframe => *self.origin.insert(frame.dts),
            None => return Ok(Vec::new()),
        };
        let dts = frame.dts - origin + self.offset(LIVE_VIDEO_TIMESCALE);
        let pts = frame.pts - origin + self.offset(LIVE_VIDEO_TIMESCALE);
        if let Some(last) = self.video.back_mut() {
            if dts < last.dts - ms_to_ticks(MAX_BACKWARDS_MS, LIVE_VIDEO_TIMESCALE) {
                return Err(MediaError::Unsupported(format!(
                    "the publisher's video timestamps went back {} ms: restart the stream",
                    (last.dts - dts) * 1000 / i64::from(LIVE_VIDEO_TIMESCALE)
                )));
            }
            // Small steps back are jitter; keep decode order with a 1-tick step.
            last.duration = (dts - last.dts).max(1);
        }
        // Bounded memory whatever the publisher sends: what is held reaches back
        // to the keyframe before the open segment, and no further than this.
        if let Some(first) = self.video.front() {
            let span = dts - first.dts;
            let too_long = span > ms_to_ticks(MAX_SEGMENT_SECS * 1000, LIVE_VIDEO_TIMESCALE);
            if too_long || self.video.len() >= MAX_SEGMENT_FRAMES {
                return Err(MediaError::Unsupported(format!(
                    "no keyframe for {} s ({} frames): set the encoder's keyframe interval to at most {MAX_SEGMENT_SECS} s",
                    span / i64::from(LIVE_VIDEO_TIMESCALE),
                    self.video.len()
                )));
            }
        }
        let (stream, key, duration, data) = (StreamKind::Video, frame.keyframe, 0, frame.data);
        self.video.push_back(SegmentPacket { stream, key, pts, dts, duration, data });
        if let Some(packet) = self.video.back().cloned() {
            self.stream_video(&packet);
        }
        let timing = PacketTiming { pts, dts, duration: 0, key: frame.keyframe, discard: false };
        let spans = self.segmenter.push(timing)?;
        self.cut_all(spans)
    }

    /// Adds an AAC frame presented at `pts` (90 kHz, the video's origin).
    /// Audio before the first keyframe is dropped; audio piling up without
    /// video is an error (bounded memory).
    pub fn push_audio(&mut self, pts: i64, data: Vec<u8>) -> Result<()> {
        let (Some(origin), Some(config)) = (self.origin, &self.audio_config) else { return Ok(()) };
        if self.audio.len() >= MAX_SEGMENT_FRAMES {
            return Err(MediaError::Unsupported(format!(
                "{} audio frames without video: the publisher stopped sending video",
                self.audio.len()
            )));
        }
        let rate = config.sample_rate;
        let stamped =
            crate::av::rescale(pts - origin, (1, LIVE_VIDEO_TIMESCALE as i32), (1, rate as i32)) + self.offset(rate);
        let at = match self.next_audio {
            Some(expected) if (stamped - expected).abs() <= ms_to_ticks(AUDIO_RESYNC_MS, rate) => expected,
            _ => stamped,
        };
        self.next_audio = Some(at + AAC_FRAME);
        if at >= 0 {
            if let Some(streaming) = self.streaming.as_mut() {
                let packet = SegmentPacket {
                    stream: StreamKind::Audio(0),
                    key: true,
                    pts: at,
                    dts: at,
                    duration: AAC_FRAME,
                    data: data.clone(),
                };
                for open in streaming.open.iter_mut().filter(|o| o.closed.is_none()) {
                    open.pending.push(packet.clone());
                }
            }
            self.audio.push((at, data));
        }
        Ok(())
    }

    /// Cuts what is left (the end of the broadcast), the last frame lasting
    /// as long as the one before it.
    pub fn finish(&mut self) -> Result<Vec<LiveSegment>> {
        if self.video.is_empty() {
            return Ok(Vec::new());
        }
        let spans = self.segmenter.finish()?;
        self.cut_all(spans)
    }

    /// Writes closed segments, then lets go of frames no later segment needs.
    fn cut_all(&mut self, spans: Vec<SegmentSpan>) -> Result<Vec<LiveSegment>> {
        let segments = spans.iter().map(|span| self.cut(span)).collect::<Result<Vec<_>>>()?;
        if let Some(streaming) = self.streaming.as_mut() {
            for span in &spans {
                if let Some(open) = streaming.open.iter_mut().find(|o| o.seq == span.seq) {
                    open.closed = Some((span.start, span.end, span.frames));
                }
            }
        }
        let needed = self.segmenter.first_needed();
        while self.first_index < needed && self.video.pop_front().is_some() {
            self.first_index += 1;
        }
        Ok(segments)
    }

    /// A source segment header for segment `seq` of this broadcast.
    fn header(
        &self,
        seq: u32,
        start: i64,
        end: i64,
        frames: usize,
        audio: Option<&AacConfig>,
        chunk: Option<SourceChunk>,
    ) -> Result<SegmentHeader> {
        let config =
            self.video_config.as_ref().ok_or_else(|| MediaError::Unsupported("no video sequence header".into()))?;
        Ok(SegmentHeader {
            seq,
            video: SegmentVideo {
                params: config.params.clone(),
                time_base: (1, LIVE_VIDEO_TIMESCALE as i32),
                timescale: LIVE_VIDEO_TIMESCALE,
                origin: 0,
                start,
                end,
                frames,
                normalise: Normalise {
                    rotation: 0,
                    deinterlace: false,
                    tone_map: None,
                    display: (config.width & !1, config.height & !1),
                },
            },
            audio: audio.map(|a| SegmentAudio { asc: a.asc.clone(), sample_rate: a.sample_rate }),
            other_audio: Vec::new(),
            chunk,
        })
    }

    /// Writes one segment: the frames it decodes, the audio up to its end.
    fn cut(&mut self, span: &SegmentSpan) -> Result<LiveSegment> {
        let config =
            self.video_config.clone().ok_or_else(|| MediaError::Unsupported("no video sequence header".into()))?;
        let (start_pts, end_pts, frames) = (span.start, span.end, span.frames);
        let from = span.decode.start.saturating_sub(self.first_index);
        let to = span.decode.end.saturating_sub(self.first_index).min(self.video.len());
        let mut packets: Vec<SegmentPacket> = self.video.range(from..to.max(from)).cloned().collect();
        let audio = self.audio_config.clone().map(|config| {
            let end = end_pts * i64::from(config.sample_rate) / i64::from(LIVE_VIDEO_TIMESCALE);
            let split = self.audio.iter().position(|(at, _)| *at >= end).unwrap_or(self.audio.len());
            let taken: Vec<(i64, Vec<u8>)> = self.audio.drain(..split).collect();
            (config, taken)
        });
        let mut audio_bytes = 0u64;
        let audio_header = match audio {
            Some((config, taken)) if !taken.is_empty() => {
                let audio_header = Some(SegmentAudio { asc: config.asc.clone(), sample_rate: config.sample_rate });
                // A frame lasts until the next one starts, so a gap (a resync) stays a gap.
                let starts: Vec<i64> = taken.iter().map(|(at, _)| *at).collect();
                for (i, (at, d)) in taken.into_iter().enumerate() {
                    let next = starts.get(i + 1).copied().unwrap_or(at + AAC_FRAME);
                    audio_bytes += d.len() as u64;
                    packets.push(SegmentPacket {
                        stream: StreamKind::Audio(0),
                        key: true,
                        pts: at,
                        dts: at,
                        duration: (next - at).max(1),
                        data: d,
                    });
                }
                audio_header
            }
            _ => None,
        };
        let mut header = self.header(span.seq, start_pts, end_pts, frames, None, None)?;
        header.audio = audio_header;
        let bytes = SourceSegment { header, packets }.to_bytes()?;
        let tick = f64::from(LIVE_VIDEO_TIMESCALE);
        let segment = LiveSegment {
            seq: span.seq,
            bytes,
            start_secs: start_pts as f64 / tick,
            duration_secs: (end_pts - start_pts) as f64 / tick,
            frames,
            video: config,
            audio_bytes,
        };
        Ok(segment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{encode_segment, DecoderConfig, EncoderSettings};
    use crate::frame::YuvFrame;
    use crate::{EncoderKind, SpeedPreset};

    /// A real 64x64 H.264 configuration and one coded keyframe.
    fn coded() -> (AvcConfig, Vec<u8>) {
        let grey = YuvFrame::new(64, 64, vec![128; 64 * 64], vec![128; 32 * 32], vec![128; 32 * 32], 0, 1).unwrap();
        let settings = EncoderSettings {
            encoder: EncoderKind::Openh264,
            width: 64,
            height: 64,
            bitrate_kbps: 100,
            quality: None,
            segment_secs: 1.0,
            frame_rate: 30.0,
            speed: SpeedPreset::Veryfast,
            threads: 1,
            low_delay: false,
        };
        let encoded = encode_segment(&settings, &[grey]).unwrap();
        let DecoderConfig::Avc(config) = encoded.config else { panic!("H.264 gives avcC") };
        (config, encoded.samples[0].data.clone())
    }

    fn frame(ms: i64, keyframe: bool, data: &[u8]) -> LiveFrame {
        LiveFrame::from_ms(ms, 0, keyframe, data.to_vec())
    }

    #[test]
    fn cuts_at_the_first_keyframe_after_the_target_and_bounds_what_it_holds() {
        let (config, data) = coded();
        let config = LiveVideo::avc(&config).unwrap();
        let mut cutter = LiveSegmenter::new(Duration::from_secs(2), 0);
        cutter.set_video_config(config.clone()).unwrap();
        cutter.set_audio_config(AacConfig::from_asc(&[0x11, 0x90]).unwrap());
        // A keyframe every 1 s at 10 fps (the keyframe at 1 s is too early to cut).
        let mut segments = Vec::new();
        for i in 0..=40 {
            segments.extend(cutter.push_video(frame(1000 + i * 100, i % 10 == 0, &data)).unwrap());
            cutter.push_audio((1000 + i * 100) * 90, vec![0x21; 8]).unwrap();
        }
        let durations: Vec<f64> = segments.iter().map(|s| s.duration_secs).collect();
        assert_eq!(durations, [2.0, 2.0], "cut at 2 s and 4 s");
        assert_eq!(segments[1].start_secs, 2.0);
        assert!(segments.iter().all(|s| s.frames == 20 && s.audio_bytes > 0));
        let last = cutter.finish().unwrap();
        assert_eq!(last.iter().map(|s| (s.seq, s.frames)).collect::<Vec<_>>(), [(2, 1)]);

        // Timestamps far back, or no keyframe for 30 s: errors, not unbounded buffers.
        let mut back = LiveSegmenter::new(Duration::from_secs(2), 0);
        back.set_video_config(config.clone()).unwrap();
        back.push_video(frame(10_000, true, &data)).unwrap();
        assert!(back.push_video(frame(5_000, false, &data)).is_err());
        let mut stuck = LiveSegmenter::new(Duration::from_secs(2), 0);
        stuck.set_video_config(config).unwrap();
        stuck.push_video(frame(0, true, &data)).unwrap();
        let error = (1..400).find_map(|i| stuck.push_video(frame(i * 100, false, &data)).err()).expect("bounded");
        assert!(error.to_string().contains("keyframe interval"), "{error}");
    }

    #[test]
    fn a_long_keyframe_interval_still_gives_segments_of_the_target() {
        // OBS's default: a keyframe every 250 frames (here 10 fps, one every 25 s... of 10 s).
        let (config, data) = coded();
        let mut cutter = LiveSegmenter::new(Duration::from_secs(2), 0);
        cutter.set_video_config(LiveVideo::avc(&config).unwrap()).unwrap();
        let mut segments: Vec<LiveSegment> = Vec::new();
        for i in 0..100 {
            segments.extend(cutter.push_video(frame(i * 100, i % 100 == 0, &data)).unwrap());
        }
        segments.extend(cutter.finish().unwrap());
        let got: Vec<(u32, f64, usize)> = segments.iter().map(|s| (s.seq, s.duration_secs, s.frames)).collect();
        assert_eq!(got, (0..5).map(|k| (k, 2.0, 20)).collect::<Vec<_>>());
        // Segment 3 starts at 6 s and decodes from the keyframe at 0: its 20 frames plus 60 of pre-roll.
        let parsed = crate::source_segment::SourceSegment::parse(&segments[3].bytes).unwrap();
        assert_eq!(parsed.video().count(), 80);
        assert_eq!(parsed.header.video.start, 6 * 90_000);
    }

    #[test]
    fn a_resumed_publish_continues_the_timeline() {
        let (config, data) = coded();
        let mut cutter = LiveSegmenter::resume(Duration::from_secs(2), 7, 14.0);
        cutter.set_video_config(LiveVideo::avc(&config).unwrap()).unwrap();
        let cut: Vec<LiveSegment> =
            (0..=20).flat_map(|i| cutter.push_video(frame(500 + i * 100, i % 20 == 0, &data)).unwrap()).collect();
        assert_eq!((cut[0].seq, cut[0].start_secs, cut[0].duration_secs), (7, 14.0, 2.0));
        let rest = cutter.finish().unwrap();
        assert_eq!((rest[0].seq, rest[0].start_secs), (8, 16.0));
    }

    #[test]
    fn streamed_segments_open_with_their_first_frame_and_their_chunks_hold_every_packet() {
        // A keyframe every 1 s at 10 fps, AAC beside it; 2 s segments in chunks of 0.3 s.
        let (config, data) = coded();
        let mut cutter = LiveSegmenter::new(Duration::from_secs(2), 0).streaming(Duration::from_millis(300));
        cutter.set_video_config(LiveVideo::avc(&config).unwrap()).unwrap();
        cutter.set_audio_config(AacConfig::from_asc(&[0x11, 0x90]).unwrap());
        let (mut opened, mut chunks, mut whole) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..=45 {
            whole.extend(cutter.push_video(frame(i * 100, i % 10 == 0, &data)).unwrap());
            cutter.push_audio(i * 100 * 90, vec![0x21; 8]).unwrap();
            opened.extend(cutter.take_opened().into_iter().map(|seq| (seq, i)));
            chunks.extend(cutter.take_chunks(false, 7).unwrap());
        }
        whole.extend(cutter.finish().unwrap());
        chunks.extend(cutter.take_chunks(true, 7).unwrap());
        assert_eq!(opened, [(0, 0), (1, 20), (2, 40)], "a segment opens with its first frame");
        for segment in &whole {
            let mine: Vec<SourceSegment> = chunks
                .iter()
                .filter(|c| c.seq == segment.seq)
                .map(|c| SourceSegment::parse(&c.bytes).unwrap())
                .collect();
            let indexes: Vec<u32> = mine.iter().map(|c| c.header.chunk.unwrap().index).collect();
            assert_eq!(indexes, (0..mine.len() as u32).collect::<Vec<_>>(), "segment {}", segment.seq);
            assert!(mine.len() >= 2 && mine.iter().all(|c| c.header.chunk.unwrap().cut_at_ms == 7));
            let last = mine.last().unwrap();
            assert!(
                last.header.chunk.unwrap().last && mine[..mine.len() - 1].iter().all(|c| !c.header.chunk.unwrap().last)
            );
            assert_eq!(last.header.video.frames, segment.frames, "the last chunk has the segment's exact count");
            // The chunks hold every video packet the whole segment decodes (and the packets after it, until it closed).
            let whole_video: Vec<i64> = SourceSegment::parse(&segment.bytes).unwrap().video().map(|p| p.dts).collect();
            let streamed: Vec<i64> = mine.iter().flat_map(|c| c.video().map(|p| p.dts).collect::<Vec<_>>()).collect();
            assert_eq!(&streamed[..whole_video.len()], whole_video.as_slice(), "segment {}", segment.seq);
            assert!(mine.iter().any(|c| c.audio().next().is_some()), "audio streams too");
        }
    }
}
