//! Tessera's shared contract crate: what every service agrees on. Records
//! only one service keeps (job records, live channels) live in that service.
//!
//! - [`ladder`]: rungs, the default ladder, rendition names.
//! - [`wire`]: tasks, job submissions and job events (JSON, versioned), subjects, stream names, keys.
//! - [`bus`]: the JetStream-shaped bus contract and its in-process implementation.
//! - [`store`]: object storage by URL.
//! - [`clock`]: wall-clock milliseconds, which tests can drive with paused time.
//! - [`cancel`]: cancellation as a signal (a watched bucket of cancelled jobs).
//! - [`kv`]: the revision-checked key-value bucket contract (memory, JetStream KV) and JSON records in it.
//! - [`roster`]: the worker roster (workers write their status; coordinators list it).
//! - [`settings`]: encoding settings as checked types (segment duration).
//! - [`topology`]: the streams and consumers services create at start-up.
//! - [`backoff`]: waiting out store and bus outages.
#![deny(missing_docs)]

pub mod backoff;
pub mod bus;
pub mod cancel;
pub mod clock;
pub mod error;
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
