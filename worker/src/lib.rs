//! Tessera worker: the per-task media pipeline and the service that runs it.
//! A task names a source segment and a rendition; [`transcode`] decodes the
//! segment, scales it to the rung and encodes it with a fresh encoder
//! ([`decoded_cache`] shares one decode among a segment's rungs);
//! [`audio`] copies the AAC frames; [`service`] pulls tasks from the bus,
//! writes fragments to the store and reports events.
#![deny(missing_docs)]

pub mod audio;
pub mod benchmark;
pub mod decoded_cache;
pub mod error;
pub mod metrics;
pub mod service;
mod status;
pub mod transcode;

pub use error::WorkerError;
pub use service::{run, WorkerBooks, WorkerConfig, WorkerStores};
pub use transcode::{decode_source_segment, encode_rung, transcode_segment, DecodedSegment, RenditionSegment};
