//! Samples of fragmented MP4 files (moof + mdat), such as Tessera's own source
//! segments: each moof's track runs are appended to the track's samples with
//! defaults taken from tfhd, then trex.

use std::io::{Read, Seek};

use mp4_atom::{Decode, Moof, Trex, TrunSamples};

use super::sample_table::Sample;
use super::top_level::{read_box, BoxHeader};
use crate::cmaf::SAMPLE_IS_NON_SYNC;
use crate::error::{MediaError, Result};

/// A trun entry with its optional fields: duration, size, flags, composition offset.
type TrunFields = (Option<u32>, Option<u32>, Option<u32>, i64);

/// A track to which fragment samples are appended.
pub struct FragmentTarget<'a> {
    /// Track id.
    pub track_id: u32,
    /// Edit-list shift of the track.
    pub shift: i64,
    /// Where the samples go.
    pub samples: &'a mut Vec<Sample>,
}

/// Reads every moof box and appends its samples to the matching targets.
pub fn append_fragments<R: Read + Seek>(
    r: &mut R,
    boxes: &[BoxHeader],
    trex: &[Trex],
    targets: &mut [FragmentTarget<'_>],
) -> Result<()> {
    for header in boxes.iter().filter(|b| &b.kind == b"moof") {
        let body = read_box(r, header)?;
        let malformed = |reason: String| MediaError::Malformed { kind: "moof".into(), offset: header.offset, reason };
        let moof = Moof::decode(&mut body.as_slice()).map_err(|e| malformed(e.to_string()))?;
        for traf in &moof.traf {
            let id = traf.tfhd.track_id;
            let Some(target) = targets.iter_mut().find(|t| t.track_id == id) else { continue };
            let defaults = trex.iter().find(|t| t.track_id == id);
            let default_duration = traf.tfhd.default_sample_duration.or(defaults.map(|t| t.default_sample_duration));
            let default_size = traf.tfhd.default_sample_size.or(defaults.map(|t| t.default_sample_size));
            let default_flags = traf.tfhd.default_sample_flags.or(defaults.map(|t| t.default_sample_flags));
            let mut decode_time = match (&traf.tfdt, target.samples.last()) {
                (Some(tfdt), _) => i64::try_from(tfdt.base_media_decode_time).map_err(|e| malformed(e.to_string()))?,
                (None, Some(last)) => last.dts + target.shift + i64::from(last.duration),
                (None, None) => 0,
            };
            let base = traf.tfhd.base_data_offset.unwrap_or(header.offset);
            let mut pos = base;
            for trun in &traf.trun {
                if let Some(offset) = trun.data_offset {
                    pos = base
                        .checked_add_signed(i64::from(offset))
                        .ok_or_else(|| malformed("negative data offset".into()))?;
                }
                let entries: Vec<TrunFields> = match &trun.samples {
                    TrunSamples::Inherited { count, first_flags } => {
                        (0..*count).map(|i| (None, None, if i == 0 { *first_flags } else { None }, 0)).collect()
                    }
                    TrunSamples::Explicit(entries) => {
                        entries.iter().map(|e| (e.duration, e.size, e.flags, e.cts.unwrap_or(0))).collect()
                    }
                };
                for (duration, size, flags, cts) in entries {
                    let duration = duration
                        .or(default_duration)
                        .ok_or_else(|| malformed(format!("track {id}: sample without a duration")))?;
                    let size =
                        size.or(default_size).ok_or_else(|| malformed(format!("track {id}: sample without a size")))?;
                    let flags = flags.or(default_flags).unwrap_or(0);
                    target.samples.push(Sample {
                        dts: decode_time - target.shift,
                        pts: decode_time + cts - target.shift,
                        duration,
                        offset: pos,
                        size,
                        is_sync: flags & SAMPLE_IS_NON_SYNC == 0,
                    });
                    decode_time += i64::from(duration);
                    pos = pos.saturating_add(u64::from(size));
                }
            }
        }
    }
    Ok(())
}
