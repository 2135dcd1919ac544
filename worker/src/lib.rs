//! Tessera worker: the per-task media pipeline and the service that runs it.
//! A task names a source segment and a rendition; [`transcode`] runs the
//! media crate's pipeline (decode, normalise, scale, encode with a fresh
//! encoder; SVT-AV1 in a child process, [`encode_child`]); [`audio`] copies
//! the AAC frames; [`service`] serves the task queues with the task runner
//! (`task`), which writes fragments to the store and reports events.
#![deny(missing_docs)]

pub mod audio;
pub mod benchmark;
pub mod encode_child;
pub mod error;
pub mod metrics;
mod parts;
mod report;
pub mod service;
mod status;
mod task;
pub mod thumbnails;
pub mod transcode;

pub use error::WorkerError;
pub use service::{run, WorkerBooks, WorkerConfig, WorkerStores};
pub use transcode::{parse_source_segment, transcode_segment, RenditionSegment};
