//! H.264: the openh264 encoder adapter; the decoder configuration (avcC)
//! and NAL framing are `tessera-codec`'s, re-exported.

pub mod encoder;

pub use encoder::H264Encoder;
pub use tessera_codec::h264::{config, nal, AvcConfig};
