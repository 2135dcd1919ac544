//! Tessera's media library: everything that touches media bytes, and nothing
//! that touches the network or a runtime.
//!
//! - [`demux`]: MP4/MOV (moov at the start or end, fragmented too) into
//!   timestamped H.264 and AAC samples, with clear errors for what we reject.
//! - [`segmenter`]: the closed-GOP cut rule as a pure state machine.
//! - [`source_segment`]: each segment as a self-contained fragmented MP4.
//! - [`flv`], [`live_segmenter`]: RTMP's FLV tag bodies, and cutting a live
//!   stream into the same source segments as it arrives.
//! - [`h264`], [`av1`], [`encode`]: openh264 decode/encode and rav1e encode.
//! - [`scale`], [`quality`]: SIMD downscaling and PSNR.
//! - [`cmaf`]: init segments and fragments for avc1, av01 and mp4a tracks.
#![deny(missing_docs)]

pub mod aac;
pub mod av1;
pub mod cmaf;
pub mod demux;
pub mod encode;
pub mod error;
pub mod flv;
pub mod frame;
pub mod h264;
pub mod limits;
pub mod live_segmenter;
pub mod quality;
pub mod scale;
pub mod segmenter;
pub mod source_segment;

pub use demux::{AudioTrack, Mp4Source, Sample, VideoTrack};
pub use encode::{
    encode_segment, CodecConfig, EncodedSample, EncodedSegment, EncoderSettings, SpeedPreset, VideoCodec,
};
pub use error::{MediaError, Result};
pub use frame::YuvFrame;
pub use limits::Limits;
pub use segmenter::{plan_segments, SegmentPlan, SegmentSpan, Segmenter};
