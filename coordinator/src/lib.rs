//! Tessera coordinator: what happens to a source before any worker sees it.
//! [`probe`] describes an input (or says exactly why it is rejected);
//! [`ingest`] cuts it into self-contained source segments. The HTTP API,
//! scheduler and job state join it with the services.
#![deny(missing_docs)]

pub mod ingest;
pub mod probe;

pub use ingest::{segment_source, SourceSegment};
pub use probe::{probe, ProbeReport};
