//! CMAF fragments: one moof (mfhd, then per track tfhd, tfdt, trun) followed
//! by one mdat holding every track's samples in order.

use mp4_atom::{Encode, Mfhd, Moof, Tfdt, Tfhd, Traf, Trun, TrunEntry, TrunSamples};

use super::{mux_error, NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS};
use crate::error::{MediaError, Result};

/// One sample of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentSample<'a> {
    /// Decode duration in the track timescale.
    pub duration: u32,
    /// Presentation minus decode time (signed: trun version 1).
    pub composition_offset: i32,
    /// Sync sample.
    pub is_sync: bool,
    /// Sample bytes.
    pub data: &'a [u8],
}

/// The samples of one track in a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRun<'a> {
    /// Track id from the init segment.
    pub track_id: u32,
    /// Decode time of the first sample (tfdt), track timescale.
    pub base_decode_time: u64,
    /// Samples in decode order.
    pub samples: Vec<FragmentSample<'a>>,
}

fn build_moof(sequence_number: u32, runs: &[TrackRun<'_>], offsets: &[i32]) -> Moof {
    Moof {
        mfhd: Mfhd { sequence_number },
        traf: runs
            .iter()
            .zip(offsets)
            .map(|(run, &offset)| Traf {
                tfhd: Tfhd { track_id: run.track_id, default_base_is_moof: true, ..Default::default() },
                tfdt: Some(Tfdt { base_media_decode_time: run.base_decode_time }),
                trun: vec![Trun {
                    data_offset: Some(offset),
                    samples: TrunSamples::Explicit(
                        run.samples
                            .iter()
                            .map(|s| TrunEntry {
                                duration: Some(s.duration),
                                size: Some(s.data.len() as u32),
                                flags: Some(if s.is_sync { SYNC_SAMPLE_FLAGS } else { NON_SYNC_SAMPLE_FLAGS }),
                                cts: Some(i64::from(s.composition_offset)),
                            })
                            .collect(),
                    ),
                }],
                ..Default::default()
            })
            .collect(),
    }
}

/// Serializes one fragment: moof + mdat.
pub fn media_segment(sequence_number: u32, runs: &[TrackRun<'_>]) -> Result<Vec<u8>> {
    if runs.is_empty() || runs.iter().any(|r| r.samples.is_empty()) {
        return Err(MediaError::Mux { kind: "moof", reason: "every track run needs at least one sample".into() });
    }
    let payload: usize = runs.iter().flat_map(|r| &r.samples).map(|s| s.data.len()).sum();
    let mdat_size = u32::try_from(payload + 8)
        .map_err(|_| MediaError::Mux { kind: "mdat", reason: format!("{payload} bytes do not fit one fragment") })?;

    // The moof's size does not depend on the offset values, so size it first.
    let mut probe = Vec::new();
    build_moof(sequence_number, runs, &vec![0; runs.len()]).encode(&mut probe).map_err(|e| mux_error("moof", e))?;
    let mut offsets = Vec::with_capacity(runs.len());
    let mut pos = probe.len() + 8;
    for run in runs {
        offsets.push(
            i32::try_from(pos).map_err(|_| MediaError::Mux { kind: "trun", reason: "data offset overflow".into() })?,
        );
        pos += run.samples.iter().map(|s| s.data.len()).sum::<usize>();
    }

    let mut out = Vec::with_capacity(pos);
    build_moof(sequence_number, runs, &offsets).encode(&mut out).map_err(|e| mux_error("moof", e))?;
    debug_assert_eq!(out.len(), probe.len());
    out.extend_from_slice(&mdat_size.to_be_bytes());
    out.extend_from_slice(b"mdat");
    for sample in runs.iter().flat_map(|r| &r.samples) {
        out.extend_from_slice(sample.data);
    }
    Ok(out)
}

/// A fragment of ours that starts with a sync sample: its moof, and where
/// that sample's bytes start and end. `None` for anything else (one moof,
/// the first track's data addressed from the moof).
fn leading_sync_sample(fragment: &[u8]) -> Option<(Moof, usize, usize)> {
    use mp4_atom::Decode;
    let moof = Moof::decode(&mut &fragment[..]).ok()?;
    let traf = moof.traf.first()?;
    let trun = traf.trun.first()?;
    let first = trun.samples.iter().next()?;
    let flags = first.flags.or(traf.tfhd.default_sample_flags)?;
    if flags & super::SAMPLE_IS_NON_SYNC != 0 || !traf.tfhd.default_base_is_moof {
        return None;
    }
    let size = usize::try_from(first.size.or(traf.tfhd.default_sample_size)?).ok()?;
    let start = usize::try_from(trun.data_offset?).ok()?;
    let end = start.checked_add(size).filter(|&end| end <= fragment.len())?;
    Some((moof, start, end))
}

/// Bytes from the start of `fragment` through the end of its first sample,
/// when that sample is a sync sample: the moof, the mdat header and the
/// keyframe, i.e. the byte range of the fragment's entry in an HLS I-frame
/// playlist. `None` when it starts with a non-sync sample or is not one of
/// ours (one moof, the first track's data addressed from the moof).
pub fn leading_sync_sample_end(fragment: &[u8]) -> Option<u64> {
    leading_sync_sample(fragment).map(|(_, _, end)| end as u64)
}

/// The fragment's leading keyframe alone, as a fragment of its own lasting
/// the whole fragment: one sample, with the fragment's sequence number, decode
/// time and keyframe bytes. These are the segments of a DASH trick-mode
/// Representation (DASH-IF IOP 3.2.9), decodable after the rendition's init
/// segment. `None` when [`leading_sync_sample_end`] finds no leading keyframe.
pub fn key_frame_fragment(fragment: &[u8]) -> Option<Vec<u8>> {
    let (moof, start, end) = leading_sync_sample(fragment)?;
    let traf = moof.traf.first()?;
    let trun = traf.trun.first()?;
    let first = trun.samples.iter().next()?;
    let mut duration = 0u32;
    for sample in trun.samples.iter() {
        duration = duration.checked_add(sample.duration.or(traf.tfhd.default_sample_duration)?)?;
    }
    let sample = FragmentSample {
        duration,
        composition_offset: i32::try_from(first.cts.unwrap_or(0)).ok()?,
        is_sync: true,
        data: fragment.get(start..end)?,
    };
    let run = TrackRun {
        track_id: traf.tfhd.track_id,
        base_decode_time: traf.tfdt.as_ref().map_or(0, |t| t.base_media_decode_time),
        samples: vec![sample],
    };
    media_segment(moof.mfhd.sequence_number, &[run]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leading_sync_sample_ends_after_the_moof_mdat_header_and_its_bytes() {
        let key = [1u8; 100];
        let delta = [2u8; 40];
        let sample = |is_sync, data| FragmentSample { duration: 1000, composition_offset: 0, is_sync, data };
        let run = |samples| TrackRun { track_id: 1, base_decode_time: 0, samples };
        let fragment = media_segment(1, &[run(vec![sample(true, &key[..]), sample(false, &delta[..])])]).unwrap();
        let end = leading_sync_sample_end(&fragment).unwrap() as usize;
        assert_eq!(end, fragment.len() - delta.len());
        assert_eq!(&fragment[end - key.len()..end], &key[..]);
        let fragment = media_segment(1, &[run(vec![sample(false, &delta[..]), sample(true, &key[..])])]).unwrap();
        assert_eq!(leading_sync_sample_end(&fragment), None);
        assert_eq!(leading_sync_sample_end(b"not a fragment"), None);
    }

    #[test]
    fn the_key_frame_fragment_holds_the_keyframe_alone_for_the_whole_fragment() {
        let key = [1u8; 100];
        let delta = [2u8; 40];
        let sample =
            |is_sync, composition_offset, data| FragmentSample { duration: 1000, composition_offset, is_sync, data };
        let run = |samples| TrackRun { track_id: 1, base_decode_time: 9000, samples };
        let fragment = media_segment(
            7,
            &[run(vec![sample(true, 2000, &key[..]), sample(false, -1000, &delta[..]), sample(false, 0, &delta[..])])],
        )
        .unwrap();
        let alone = key_frame_fragment(&fragment).unwrap();
        let expected = media_segment(
            7,
            &[TrackRun {
                samples: vec![FragmentSample { duration: 3000, ..sample(true, 2000, &key[..]) }],
                ..run(vec![])
            }],
        )
        .unwrap();
        assert_eq!(alone, expected);
        let fragment = media_segment(1, &[run(vec![sample(false, 0, &delta[..]), sample(true, 0, &key[..])])]).unwrap();
        assert_eq!(key_frame_fragment(&fragment), None);
        assert_eq!(key_frame_fragment(b"not a fragment"), None);
    }
}
