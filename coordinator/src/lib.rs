//! Tessera coordinator: what happens to a source before any worker sees it.
//! [`probe`] describes an input (or says exactly why it is rejected);
//! [`ingest`] cuts it into self-contained source segments; [`vod`] runs a
//! VOD job's side of the pipeline: plan, source segments, tasks.
#![deny(missing_docs)]

pub mod error;
pub mod ingest;
pub mod probe;
pub mod vod;

pub use error::CoordinatorError;
pub use ingest::{segment_source, SourceSegment};
pub use probe::{probe, ProbeReport};
pub use vod::{run_vod_job, VodJobSpec};
