//! H.264 decoding with openh264, frames out in presentation order.
//!
//! openh264 drops reordered frames unless it is told not to flush after each
//! call (`Flush::NoFlush`); it then holds frames until their output time and
//! the rest are drained by [`H264Decoder::flush`]. Its own timestamp pass-through
//! is not exposed, so presentation times are reassigned: frames leave in
//! presentation order, so the n-th frame out takes the n-th smallest pts fed in.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

use super::config::AvcConfig;
use super::nal::{split_length_prefixed, write_annexb};
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;

/// An openh264 decoder fed with MP4 (length-prefixed) samples.
pub struct H264Decoder {
    decoder: Decoder,
    config: AvcConfig,
    sent_parameter_sets: bool,
    pending: BinaryHeap<Reverse<(i64, u32)>>,
    sent: usize,
    annexb: Vec<u8>,
}

impl H264Decoder {
    /// Creates a single-threaded decoder for a stream with this configuration.
    pub fn new(config: &AvcConfig) -> Result<Self> {
        config.check_supported()?;
        let decoder = Decoder::with_api_config(
            OpenH264API::from_source(),
            DecoderConfig::new().flush_after_decode(Flush::NoFlush),
        )
        .map_err(|e| MediaError::InvalidH264(format!("cannot create decoder: {e}")))?;
        Ok(Self {
            decoder,
            config: config.clone(),
            sent_parameter_sets: false,
            pending: BinaryHeap::new(),
            sent: 0,
            annexb: Vec::new(),
        })
    }

    /// Decodes one access unit (decode order); returns a frame when one is ready.
    pub fn send_sample(&mut self, sample: &[u8], pts: i64, duration: u32) -> Result<Option<YuvFrame>> {
        let index = self.sent;
        self.sent += 1;
        self.annexb.clear();
        if !self.sent_parameter_sets {
            let ps = self.config.sps.iter().chain(self.config.pps.iter()).map(Vec::as_slice);
            write_annexb(ps, &mut self.annexb);
            self.sent_parameter_sets = true;
        }
        let nals = split_length_prefixed(sample, self.config.nal_length_size).map_err(|e| MediaError::Decode {
            index,
            pts,
            reason: e.to_string(),
        })?;
        write_annexb(nals, &mut self.annexb);
        self.pending.push(Reverse((pts, duration)));
        let decoded =
            self.decoder.decode(&self.annexb).map_err(|e| MediaError::Decode { index, pts, reason: e.to_string() })?;
        match decoded {
            Some(yuv) => {
                let Reverse((pts, duration)) = self.pending.pop().ok_or_else(|| too_many_frames(index, pts))?;
                Ok(Some(copy_frame(&yuv, pts, duration)?))
            }
            None => Ok(None),
        }
    }

    /// Drains the frames the decoder still holds, in presentation order.
    pub fn flush(&mut self) -> Result<Vec<YuvFrame>> {
        let sent = self.sent;
        let remaining = self.decoder.flush_remaining().map_err(|e| MediaError::Decode {
            index: sent,
            pts: 0,
            reason: e.to_string(),
        })?;
        let mut frames = Vec::with_capacity(remaining.len());
        for yuv in &remaining {
            let Some(Reverse((pts, duration))) = self.pending.pop() else {
                return Err(too_many_frames(sent, 0));
            };
            frames.push(copy_frame(yuv, pts, duration)?);
        }
        Ok(frames)
    }

    /// Number of samples sent whose frames have not come out.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

fn too_many_frames(index: usize, pts: i64) -> MediaError {
    MediaError::Decode { index, pts, reason: "decoder produced more frames than it was given".into() }
}

fn copy_frame(yuv: &DecodedYUV<'_>, pts: i64, duration: u32) -> Result<YuvFrame> {
    let (w, h) = yuv.dimensions();
    let (sy, su, sv) = yuv.strides();
    YuvFrame::from_strided(w as u32, h as u32, [yuv.y(), yuv.u(), yuv.v()], [sy, su, sv], pts, duration)
}

/// Decodes a run of samples `(bytes, pts, duration)` given in decode order
/// that starts at an IDR; returns every frame in presentation order, with
/// durations taken from the gaps between presentation times.
pub fn decode_all<'a>(
    config: &AvcConfig,
    samples: impl IntoIterator<Item = (&'a [u8], i64, u32)>,
) -> Result<Vec<YuvFrame>> {
    let mut decoder = H264Decoder::new(config)?;
    let mut frames = Vec::new();
    for (data, pts, duration) in samples {
        if let Some(frame) = decoder.send_sample(data, pts, duration)? {
            frames.push(frame);
        }
    }
    frames.extend(decoder.flush()?);
    if decoder.pending() > 0 {
        return Err(MediaError::Decode {
            index: decoder.sent,
            pts: 0,
            reason: format!("{} of {} frames were not output by the decoder", decoder.pending(), decoder.sent),
        });
    }
    for i in 1..frames.len() {
        let gap = frames[i].pts - frames[i - 1].pts;
        if let Ok(gap) = u32::try_from(gap) {
            if gap > 0 {
                frames[i - 1].duration = gap;
            }
        }
    }
    Ok(frames)
}
