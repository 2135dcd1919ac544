//! H.264: the decoder configuration (avcC, from SPS/PPS) and NAL framing.

pub mod config;
pub mod nal;

pub use config::AvcConfig;
