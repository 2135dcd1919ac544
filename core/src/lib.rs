//! Tessera's shared contract crate: what every service agrees on. Today that
//! is the encoding ladder (rungs, the default ladder, rendition names); the
//! task/event wire types, bus and store join it with the services.
#![deny(missing_docs)]

pub mod error;
pub mod ladder;

pub use error::CoreError;
pub use ladder::{Ladder, Rung};
