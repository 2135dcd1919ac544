//! What a codec is, as Tessera's contract names it, with nothing that
//! encodes or decodes: the video codecs ([`VideoCodec`]), the encoders and
//! speed presets a rung can name ([`EncoderKind`], [`SpeedPreset`]; which
//! encoders a build has is the media crate's answer to [`EncoderCatalog`]),
//! and a track's decoder configuration ([`DecoderConfig`]: avcC parameter
//! sets, the av1C record and sequence header, an AudioSpecificConfig),
//! parsed and written; and what the per-title probe measured per rung
//! ([`RungProbe`]).
//!
//! Why a crate of its own: the contract crate (`tessera-core`) carries these
//! in ladders, tasks and events, and must not build FFmpeg, x264's host,
//! openh264 and rav1e to do so; the media crate builds on the same types.
#![deny(missing_docs)]

pub mod aac;
pub mod av1;
mod config;
pub mod error;
pub mod h264;
mod names;
mod probe;

pub use config::DecoderConfig;
pub use error::{CodecError, Result};
pub use names::{EncoderCatalog, EncoderKind, SpeedPreset, VideoCodec};
pub use probe::RungProbe;
