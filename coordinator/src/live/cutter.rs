//! A publisher's messages to source segments: FLV tag bodies parsed
//! (`tessera_media::flv`) and fed to the live segmenter. Audio in a codec
//! other than AAC is left out with one warning (as VOD does); video that is
//! not H.264 ends the broadcast with the reason.

use std::time::Duration;

use tessera_media::flv::{parse_audio, parse_video, AudioTag, VideoTag};
use tessera_media::live_segmenter::{LiveFrame, LiveSegment, LiveSegmenter};
use tessera_media::MediaError;

use super::rtmp::Ingest;

/// Cuts one publish into segments.
#[derive(Debug)]
pub struct StreamCutter {
    segmenter: LiveSegmenter,
    audio_refused: bool,
    ended: bool,
}

impl StreamCutter {
    /// Segments of about `target`, numbered from `first_seq`, this publish's
    /// time 0 at `offset_secs` on the broadcast's timeline.
    pub fn new(target: Duration, first_seq: u32, offset_secs: f64) -> Self {
        Self { segmenter: LiveSegmenter::resume(target, first_seq, offset_secs), audio_refused: false, ended: false }
    }

    /// Number of the next segment (= segments cut so far, from 0).
    pub fn next_seq(&self) -> u32 {
        self.segmenter.next_seq()
    }

    /// True once the publisher's `End` was handled.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Handles one message; returns the segments it completes.
    pub fn push(&mut self, message: Ingest) -> Result<Vec<LiveSegment>, MediaError> {
        match message {
            Ingest::Video { ms, body } => match parse_video(&body)? {
                VideoTag::SequenceHeader(config) => {
                    self.segmenter.set_video_config(config)?;
                    Ok(Vec::new())
                }
                VideoTag::Frame { keyframe, composition_ms, data } => {
                    self.segmenter.push_video(LiveFrame { dts_ms: i64::from(ms), composition_ms, keyframe, data })
                }
                VideoTag::EndOfSequence => Ok(Vec::new()),
            },
            Ingest::Audio { ms, body } => {
                match parse_audio(&body) {
                    Ok(AudioTag::SequenceHeader(config)) => self.segmenter.set_audio_config(config),
                    Ok(AudioTag::Frame(data)) => self.segmenter.push_audio(i64::from(ms), data)?,
                    Err(e) if !self.audio_refused => {
                        tracing::warn!(error = %e, "audio left out of the broadcast");
                        self.audio_refused = true;
                    }
                    Err(_) => {}
                }
                Ok(Vec::new())
            }
            Ingest::End { .. } => {
                self.ended = true;
                self.segmenter.finish()
            }
        }
    }
}
