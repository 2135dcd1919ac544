//! CMAF box writing: init segments (ftyp + moov with mvex/trex) and media
//! fragments (moof + mdat). These are pure functions from plain structs to
//! bytes; deciding what goes in a fragment is the caller's job.
//!
//! Boxes are built and serialized with mp4-atom, which writes every box
//! needed here; only the trun data offsets are computed by hand (they depend
//! on the size of the moof that holds them).

pub mod fragment;
pub mod init;

pub use fragment::{key_frame_fragment, leading_sync_sample_end, media_segment, FragmentSample, TrackRun};
pub use init::{init_segment, InitTrack};

use crate::error::MediaError;

pub(crate) fn mux_error(kind: &'static str, e: mp4_atom::Error) -> MediaError {
    MediaError::Mux { kind, reason: e.to_string() }
}

/// The `sample_is_non_sync_sample` bit of ISO-BMFF sample flags.
pub const SAMPLE_IS_NON_SYNC: u32 = 0x0001_0000;
/// trun/trex sample flags of a sync sample: depends on no other sample.
pub const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// Sample flags of a non-sync sample: depends on others, is a non-sync sample.
pub const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0100_0000 | SAMPLE_IS_NON_SYNC;
