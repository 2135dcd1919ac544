//! H.264: decoder configuration (avcC), NAL framing, and the openh264
//! encoder adapter.

pub mod config;
pub mod encoder;
pub mod nal;

pub use config::AvcConfig;
pub use encoder::H264Encoder;
