//! Live ingest: the RTMP server ([`rtmp`]) behind its bounds on untrusted
//! peers ([`chunk_guard`]), the cutting of a publish into
//! the same source segments VOD uses ([`cutter`]), and broadcasts: the gate
//! that admits publishers by stream key and the publishing of each segment's
//! tasks ([`broadcast`]).

pub mod broadcast;
pub mod chunk_guard;
pub mod cutter;
pub mod rtmp;
pub mod sweeper;
