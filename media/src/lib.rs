//! Tessera's media library: everything that touches media bytes, and nothing
//! that touches the network or a runtime.
//!
//! - [`av`]: FFmpeg's libraries: any upload libavformat and libavcodec read
//!   (containers, codecs, audio normalised to AAC-LC), decoding and
//!   normalising frames in one filter graph per task.
//! - [`segmenter`]: where segments start and end (the target duration,
//!   whatever the keyframes) and which packets each needs.
//! - [`source_segment`]: what a worker gets for one segment.
//! - [`pipeline`]: one task's work, a source segment to a rendition fragment.
//! - [`flv`], [`live_segmenter`]: RTMP's FLV tag bodies, and cutting a live
//!   stream into the same source segments as it arrives.
//! - [`encoders`], [`encode`], [`h264`], [`av1`], [`av::encoder`]: the four
//!   video encoders (x264 and SVT-AV1 hosted in libavcodec, openh264,
//!   rav1e), their presets, and one segment's encode.
//! - [`per_title`]: the complexity probe behind per-title ladders.
//! - [`scale`], [`quality`]: rung sizes, PSNR and SSIM ([`av::quality_meter`]
//!   decodes what was coded to measure it).
//! - [`cmaf`]: init segments and fragments for avc1, av01 and mp4a tracks.
//!
//! Codec names and decoder configurations (avcC, av1C, AAC's ASC) are the
//! `tessera-codec` crate's, re-exported here.
#![deny(missing_docs)]

pub mod av;
pub mod av1;
pub mod captions;
pub mod cmaf;
pub mod encode;
pub mod encoders;
pub mod error;
pub mod flv;
pub mod frame;
pub mod h264;
pub mod limits;
pub mod live_segmenter;
pub mod per_title;
pub mod pipeline;
pub mod quality;
pub mod scale;
pub mod segmenter;
pub mod source_segment;
pub mod thumbnails;

pub use encode::{
    encode_segment, EncodedSample, EncodedSegment, EncoderSettings, SegmentEncoder, SettingsError, VideoEncoder,
};
pub use encoders::{BuildEncoders, EncoderCatalog, EncoderKind, SpeedPreset};
pub use error::{MediaError, Result};
pub use frame::YuvFrame;
pub use limits::Limits;
pub use segmenter::{plan_segments, PacketTiming, SegmentSpan};
/// The codec names and decoder configurations the media crate builds on
/// (`tessera-codec`, which the contract crate uses without the codecs).
pub use tessera_codec::{aac, DecoderConfig, VideoCodec};
