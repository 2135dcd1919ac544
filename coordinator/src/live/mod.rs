//! Live ingest: the RTMP server ([`rtmp`]) behind its bounds on untrusted
//! peers ([`chunk_guard`]) and the SRT server ([`srt`], MPEG-TS demuxed by
//! libavformat), both handing a broadcast the same [`publish::Ingest`]
//! messages; the cutting of a publish into the same source segments VOD uses
//! ([`cutter`]), and broadcasts: the gate that admits publishers by stream
//! key and the publishing of each segment's tasks ([`broadcast`]).

pub mod broadcast;
pub mod chunk_guard;
pub mod cutter;
pub mod publish;
pub mod rtmp;
pub mod srt;
pub mod sweeper;
