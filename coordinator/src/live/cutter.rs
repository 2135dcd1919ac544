//! A publisher's messages to source segments: RTMP's FLV tag bodies parsed
//! (`tessera_media::flv`: H.264, and HEVC or AV1 over Enhanced RTMP) or
//! media SRT's demuxer already read, fed to the live segmenter. Audio in a
//! codec other than AAC is left out with one warning (as VOD does); video
//! that cannot be read ends the broadcast with the reason.

use std::time::Duration;

use tessera_media::aac::AacConfig;
use tessera_media::av::params::CodecParams;
use tessera_media::flv::{parse_audio, parse_video, AudioTag, VideoTag};
use tessera_media::live_segmenter::{LiveChunk, LiveFrame, LiveInput, LiveSegment, LiveSegmenter, LiveVideo};
use tessera_media::MediaError;

use super::publish::Ingest;

/// How much video a streamed segment's chunk holds: a worker sees a frame
/// at most this long after it arrived (and a store write per chunk).
const CHUNK: Duration = Duration::from_millis(100);

/// Cuts one publish into segments.
#[derive(Debug)]
pub struct StreamCutter {
    segmenter: LiveSegmenter,
    /// The video's configuration, once it came.
    video: Option<LiveVideo>,
    /// The audio's configuration, once it came.
    audio: Option<AacConfig>,
    audio_refused: bool,
    ended: bool,
}

impl StreamCutter {
    /// Segments of about `target`, numbered from `first_seq`, this publish's
    /// time 0 at `offset_secs` on the broadcast's timeline.
    pub fn new(target: Duration, first_seq: u32, offset_secs: f64) -> Self {
        Self {
            segmenter: LiveSegmenter::resume(target, first_seq, offset_secs),
            video: None,
            audio: None,
            audio_refused: false,
            ended: false,
        }
    }

    /// Also streams every segment in chunks as it is cut (a low-latency
    /// channel's): see [`Self::take_opened`] and [`Self::take_chunks`].
    pub fn streaming(mut self) -> Self {
        self.segmenter = self.segmenter.streaming(CHUNK);
        self
    }

    /// Segments that opened since the last call (streaming).
    pub fn take_opened(&mut self) -> Vec<u32> {
        self.segmenter.take_opened()
    }

    /// Chunks ready to be written (streaming), stamped `now_ms`.
    pub fn take_chunks(&mut self, now_ms: u64) -> Result<Vec<LiveChunk>, MediaError> {
        self.segmenter.take_chunks(self.ended, now_ms)
    }

    /// Number of the next segment (= segments cut so far, from 0).
    pub fn next_seq(&self) -> u32 {
        self.segmenter.next_seq()
    }

    /// True once the publisher's `End` was handled.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The video the publisher sends, once its configuration arrived.
    pub fn video(&self) -> Option<&LiveVideo> {
        self.video.as_ref()
    }

    /// The AAC audio the publisher sends, once its configuration arrived.
    pub fn audio(&self) -> Option<&AacConfig> {
        self.audio.as_ref()
    }

    /// Handles one message; returns the segments it completes.
    pub fn push(&mut self, message: Ingest) -> Result<Vec<LiveSegment>, MediaError> {
        match message {
            Ingest::Video { ms, body } => match parse_video(&body)? {
                VideoTag::SequenceHeader(config) => self.input(LiveInput::VideoConfig(LiveVideo::avc(&config)?)),
                VideoTag::SequenceStart { codec, record } => {
                    let params = CodecParams::video(codec.codec_name(), record, 0, 0);
                    self.input(LiveInput::VideoConfig(LiveVideo::from_params(params, None)?))
                }
                VideoTag::Frame { keyframe, composition_ms, data } => {
                    self.input(LiveInput::Video(LiveFrame::from_ms(i64::from(ms), composition_ms, keyframe, data)))
                }
                VideoTag::EndOfSequence | VideoTag::Ignored => Ok(Vec::new()),
            },
            Ingest::Audio { ms, body } => {
                match parse_audio(&body) {
                    Ok(AudioTag::SequenceHeader(config)) => {
                        self.input(LiveInput::AudioConfig(config))?;
                    }
                    Ok(AudioTag::Frame(data)) => {
                        self.input(LiveInput::Audio { pts: i64::from(ms) * 90, data })?;
                    }
                    Err(e) if !self.audio_refused => {
                        tracing::warn!(error = %e, "audio left out of the broadcast");
                        self.audio_refused = true;
                    }
                    Err(_) => {}
                }
                Ok(Vec::new())
            }
            Ingest::Media(input) => self.input(input),
            Ingest::Invalid(reason) => Err(MediaError::Unsupported(reason)),
            Ingest::End { .. } => {
                self.ended = true;
                self.segmenter.finish()
            }
        }
    }

    fn input(&mut self, input: LiveInput) -> Result<Vec<LiveSegment>, MediaError> {
        match &input {
            LiveInput::VideoConfig(video) => self.video = Some(video.clone()),
            LiveInput::AudioConfig(audio) => self.audio = Some(audio.clone()),
            LiveInput::AudioLeftOut(reason) => tracing::warn!(%reason, "audio left out of the broadcast"),
            _ => {}
        }
        self.segmenter.push(input)
    }
}
