//! Tessera coordinator: what happens to a source before any worker sees it.
//! [`probe`] describes an input (or says exactly why it is rejected);
//! [`ingest`] cuts it into self-contained source segments; [`vod`] runs a
//! VOD job's side of the pipeline: plan, source segments, tasks.
//!
//! As a service ([`service`]): the HTTP API ([`api`]), the segmenting of
//! submitted jobs ([`submissions`]), job records following job events
//! ([`tracker`]), completion webhooks ([`webhook`]) and [`metrics`].
#![deny(missing_docs)]

pub mod api;
pub mod error;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod probe;
pub mod queues;
pub mod service;
pub mod submissions;
pub mod tracker;
pub mod vod;
pub mod webhook;

pub use error::CoordinatorError;
pub use ingest::{segment_source, SourceSegment};
pub use probe::{probe, ProbeReport};
pub use service::{CoordinatorConfig, CoordinatorDeps};
pub use vod::{run_vod_job, VodJobSpec};
