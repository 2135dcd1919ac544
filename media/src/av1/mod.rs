//! AV1: the rav1e encoder adapter; OBU framing and the av1C configuration
//! are `tessera-codec`'s, re-exported.

pub mod encoder;

pub use encoder::Av1Encoder;
pub use tessera_codec::av1::{config, obu, split_obus, Av1Config, OBU_SEQUENCE_HEADER, OBU_TEMPORAL_DELIMITER};
