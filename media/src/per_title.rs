//! The per-title probe: how many bits this picture needs at each rung, and
//! whether a rung shows anything the rung below it does not. Run on a few
//! sampled source segments before a `"ladder": "auto"` job is published;
//! `tessera_core::Ladder::per_title` turns its figures into the ladder.
//!
//! For each sampled segment and rung size: the first second of frames,
//! decoded and scaled as a worker would, is encoded by x264 (veryfast, one
//! thread) at [`PROBE_CRF`], a fixed quality, and the bits it spends are the
//! rung's need; and the next rung down, scaled back up (bicubic), is compared
//! with this rung's frames (SSIM of luma): near 1, a viewer would not see the
//! extra lines. Deterministic: the same upload gives the same figures.

use ffmpeg_next as ffmpeg;

use crate::av::encoder::to_av_frame;
use crate::av::video::decode_video;
use crate::encode::{encode_segment, EncoderSettings};
use crate::encoders::{BuildEncoders, EncoderCatalog, EncoderKind, SpeedPreset};
use crate::error::{MediaError, Result};
use crate::frame::YuvFrame;
use crate::quality::{planes, ssim, Plane};
use crate::scale::rung_size;
use crate::source_segment::SourceSegment;

/// The x264 CRF the probe encodes at: a quality that looks clean on a
/// phone or a TV (about VMAF 93-95 on film content).
pub const PROBE_CRF: u8 = 23;

/// Seconds of each sampled segment the probe looks at.
pub const PROBE_SECS: f64 = 1.0;

pub use tessera_codec::RungProbe;

fn probe_error(reason: impl std::fmt::Display) -> MediaError {
    MediaError::Encode { codec: "probe", reason: format!("per-title probe: {reason}") }
}

/// The first [`PROBE_SECS`] of a segment's frames at one rung size.
fn frames_at(segment: &SourceSegment, size: (u32, u32), frame_rate: f64) -> Result<Vec<YuvFrame>> {
    let limit = (frame_rate * PROBE_SECS).ceil().max(1.0) as usize;
    let mut frames = Vec::with_capacity(limit);
    decode_video(segment, size, &mut |frame| {
        if frames.len() < limit {
            frames.push(frame);
        }
        Ok(())
    })?;
    Ok(frames)
}

/// Scales a frame's luma up (or down) to `size`, bicubic as the players do.
fn scaled_luma(frame: &YuvFrame, size: (u32, u32)) -> Result<ffmpeg::frame::Video> {
    let yuv = ffmpeg::format::Pixel::YUV420P;
    let mut scaler = ffmpeg::software::scaling::Context::get(
        yuv,
        frame.width,
        frame.height,
        yuv,
        size.0,
        size.1,
        ffmpeg::software::scaling::Flags::BICUBIC | ffmpeg::software::scaling::Flags::BITEXACT,
    )
    .map_err(probe_error)?;
    let mut out = ffmpeg::frame::Video::empty();
    scaler.run(&to_av_frame(frame), &mut out).map_err(probe_error)?;
    Ok(out)
}

/// Probes every height in `heights` (any order) on the sampled segments.
pub fn probe(samples: &[SourceSegment], heights: &[u32], frame_rate: f64) -> Result<Vec<RungProbe>> {
    if samples.is_empty() {
        return Err(probe_error("no segment to sample"));
    }
    if !BuildEncoders.available(EncoderKind::X264) {
        return Err(probe_error("it needs x264, which this build's FFmpeg lacks"));
    }
    let mut heights: Vec<u32> = heights.to_vec();
    heights.sort_unstable_by(|a, b| b.cmp(a));
    heights.dedup();
    let rate = if frame_rate > 0.0 && frame_rate <= 240.0 { frame_rate } else { 30.0 };
    let mut kbps = vec![0.0; heights.len()];
    let mut below = vec![0.0; heights.len()];
    for segment in samples {
        let display = segment.header.video.normalise.display;
        let mut above: Option<Vec<YuvFrame>> = None;
        for (i, &height) in heights.iter().enumerate() {
            let size = rung_size(display, height);
            let frames = frames_at(segment, size, rate)?;
            let secs: f64 = frames.iter().map(|f| f64::from(f.duration)).sum::<f64>()
                / f64::from(segment.header.video.timescale.max(1));
            let settings = EncoderSettings {
                encoder: EncoderKind::X264,
                width: size.0,
                height: size.1,
                bitrate_kbps: 100_000,
                quality: Some(PROBE_CRF),
                segment_secs: secs.max(0.1),
                frame_rate: rate,
                speed: SpeedPreset::Veryfast,
                threads: 1,
                low_delay: false,
            };
            let coded = encode_segment(&settings, &frames)?;
            let bytes: usize = coded.samples.iter().map(|s| s.data.len()).sum();
            kbps[i] += bytes as f64 * 8.0 / secs.max(1e-3) / 1000.0;
            if let Some(upper) = &above {
                let mut sum = 0.0;
                for (low, high) in frames.iter().zip(upper) {
                    let up = scaled_luma(low, (high.width, high.height))?;
                    let up_luma = Plane {
                        data: up.data(0),
                        stride: up.stride(0),
                        width: high.width as usize,
                        height: high.height as usize,
                    };
                    sum += ssim(&up_luma, &planes(high)[0])?;
                }
                below[i - 1] += sum / frames.len().min(upper.len()).max(1) as f64;
            }
            above = Some(frames);
        }
    }
    let n = samples.len() as f64;
    Ok(heights
        .iter()
        .enumerate()
        .map(|(i, &height)| RungProbe {
            height,
            kbps_at_crf: kbps[i] / n,
            ssim_of_rung_below: (i + 1 < heights.len()).then(|| below[i] / n),
        })
        .collect())
}
