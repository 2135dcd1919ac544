//! Live ingest: the RTMP server ([`rtmp`]) and the cutting of a publish into
//! the same source segments VOD uses ([`cutter`]).

pub mod cutter;
pub mod rtmp;
