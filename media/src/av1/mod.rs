//! AV1: OBU framing, the av1C configuration and level choice, and the rav1e
//! encoder adapter.

pub mod config;
pub mod encoder;
pub mod obu;

pub use config::Av1Config;
pub use encoder::Av1Encoder;
pub use obu::{split_obus, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER};
