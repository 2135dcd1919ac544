//! H.264: decoder configuration (avcC), NAL framing, and the openh264
//! decoder and encoder adapters.

pub mod config;
pub mod decoder;
pub mod encoder;
pub mod nal;

pub use config::AvcConfig;
pub use decoder::H264Decoder;
pub use encoder::H264Encoder;
