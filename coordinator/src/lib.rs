//! Tessera coordinator: what happens to a source before any worker sees it.
//! [`probe`] describes an input (or says exactly why it is rejected);
//! [`upload`] cuts it into self-contained source segments, in a child process
//! where a parser crash ends only that job ([`cutting`]); [`vod`] runs a
//! VOD job's side of the pipeline: plan, source segments, tasks.
//!
//! As a service ([`service`]): the HTTP API ([`api`]), the segmenting of
//! submitted jobs ([`submissions`]), job records ([`records`]) following
//! job events ([`tracker`]), completion webhooks ([`webhook`], to the destinations
//! [`webhook_policy`] allows) and [`metrics`].
#![deny(missing_docs)]

pub mod api;
pub mod cutting;
pub mod error;
pub mod live;
pub mod metrics;
pub mod probe;
pub mod queues;
pub mod records;
pub mod service;
pub mod submissions;
pub mod subtitles;
pub mod tracker;
pub mod upload;
pub mod vod;
pub mod webhook;
pub mod webhook_policy;

pub use error::CoordinatorError;
pub use probe::{probe, ProbeReport};
pub use service::{CoordinatorConfig, CoordinatorDeps};
pub use upload::{segment_source, SourceSegment};
pub use vod::{run_vod_job, VodJobSpec};
