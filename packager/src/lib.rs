//! Tessera packager: everything around the workers' fragments. [`job`]
//! follows a job's events to completion; [`init`], [`hls`], [`dash`] and
//! [`report`] build the small files; [`vod`] writes a finished job and
//! [`progressive`] what of an unfinished one already plays;
//! [`service`] runs it all from the bus; [`origin`] serves the outputs with
//! LL-HLS's blocking playlist reloads.
#![deny(missing_docs)]

pub mod dash;
pub mod error;
pub mod hls;
pub mod init;
pub mod job;
pub mod live;
pub mod metrics;
pub mod origin;
pub mod progressive;
pub mod rendition;
pub mod report;
pub mod service;
pub mod subtitles;
pub mod thumbnails;
pub mod vod;

pub use error::PackagerError;
pub use init::rendition_init;
pub use job::{JobAssembly, Step};
pub use report::{JobReport, RenditionReport};
pub use service::run;
