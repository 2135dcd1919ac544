//! Tessera's shared contract crate: what every service agrees on.
//!
//! - [`ladder`]: rungs, the default ladder, rendition names.
//! - [`wire`]: tasks and job events (JSON, versioned), subjects, stream names, keys.
//! - [`bus`]: the JetStream-shaped bus contract and its in-process implementation.
//! - [`store`]: object storage by URL.
//! - [`kv`]: the revision-checked key-value bucket contract (memory, JetStream KV).
//! - [`jobs`]: job records and how events fold into them.
//! - [`channels`]: live channels and their stream keys.
//! - [`settings`]: encoding settings as checked types (segment duration).
//! - [`topology`]: the streams and consumers services create at start-up.
//! - [`backoff`]: waiting out store and bus outages.
#![deny(missing_docs)]

pub mod backoff;
pub mod bus;
pub mod channels;
pub mod error;
pub mod jobs;
pub mod kv;
pub mod ladder;
pub mod roster;
pub mod settings;
pub mod store;
pub mod telemetry;
pub mod topology;
pub mod wire;

pub use error::CoreError;
pub use ladder::{Ladder, Rung};
pub use settings::SegmentDuration;
pub use store::{Store, StoreError};
