//! Tessera worker: the per-task media pipeline. A task names a source segment
//! and a rung; the worker decodes the segment, scales it to the rung and
//! encodes it with a fresh encoder, yielding the rendition's CMAF fragment.
//! Pulling tasks from the bus and writing to the store come with the services.
#![deny(missing_docs)]

pub mod error;
pub mod transcode;

pub use error::WorkerError;
pub use transcode::{transcode_segment, RenditionSegment};
