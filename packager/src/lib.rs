//! Tessera packager: the small files around the workers' fragments. Today it
//! builds a rendition's init segment from the codec configuration a worker
//! reports; HLS and DASH manifests join it with `tessera transcode`.
#![deny(missing_docs)]

pub mod init;

pub use init::{rendition_init, PackagerError};
