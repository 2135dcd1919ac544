//! AV1: OBU framing and the av1C configuration.

pub mod config;
pub mod obu;

pub use config::Av1Config;
pub use obu::{split_obus, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER};
