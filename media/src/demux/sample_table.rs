//! Flattening an MP4 sample table (stsz, stsc, stco/co64, stts, ctts, stss)
//! and the edit list into one timestamped record per sample.

use mp4_atom::{Elst, Stbl, StszSamples};

use crate::error::{MediaError, Result};
use crate::limits::Limits;

/// One sample (access unit or audio frame) of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Decode timestamp in the track timescale, shifted by the edit list
    /// (negative for the first frames of a stream with B-frames, as ffprobe shows).
    pub dts: i64,
    /// Presentation timestamp in the track timescale, edit list applied.
    pub pts: i64,
    /// Duration (decode delta) in the track timescale.
    pub duration: u32,
    /// Byte offset in the file.
    pub offset: u64,
    /// Size in bytes.
    pub size: u32,
    /// Sync sample (IDR for H.264).
    pub is_sync: bool,
}

fn malformed(kind: &str, reason: String) -> MediaError {
    MediaError::Malformed { kind: kind.into(), offset: 0, reason }
}

/// The presentation shift an edit list applies, in media timescale units:
/// `pts = raw_pts - shift`. Leading empty edits delay the presentation.
pub fn edit_shift(elst: Option<&Elst>, movie_timescale: u32, media_timescale: u32) -> i64 {
    let Some(elst) = elst else { return 0 };
    let mut empty = 0i64;
    for entry in &elst.entries {
        match entry.media_time {
            None => {
                let ticks = i128::from(entry.segment_duration) * i128::from(media_timescale)
                    / i128::from(movie_timescale.max(1));
                empty += i64::try_from(ticks).unwrap_or(0);
            }
            Some(start) => return i64::try_from(start).unwrap_or(0) - empty,
        }
    }
    -empty
}

/// A bound on a track's sample count, checked before anything is allocated
/// (an stsz box of a few bytes can claim four billion samples).
#[derive(Debug, Clone, Copy)]
pub struct SampleLimit {
    /// What is counted, for the error message (e.g. "video frame count").
    pub what: &'static str,
    /// The largest accepted count.
    pub max: u64,
}

/// Expands the sample table into per-sample records.
pub fn flatten(stbl: &Stbl, shift: i64, limit: SampleLimit) -> Result<Vec<Sample>> {
    let claimed = match &stbl.stsz.samples {
        StszSamples::Identical { count, .. } => u64::from(*count),
        StszSamples::Different { sizes } => sizes.len() as u64,
    };
    Limits::check(limit.what, claimed, limit.max)?;
    let sizes: Vec<u32> = match &stbl.stsz.samples {
        StszSamples::Identical { count, size } => vec![*size; *count as usize],
        StszSamples::Different { sizes } => sizes.clone(),
    };
    let count = sizes.len();

    let chunk_offsets: Vec<u64> = match (&stbl.stco, &stbl.co64) {
        (Some(stco), _) => stco.entries.iter().map(|&o| u64::from(o)).collect(),
        (None, Some(co64)) => co64.entries.clone(),
        (None, None) if count == 0 => Vec::new(),
        (None, None) => return Err(malformed("stbl", "no chunk offset box (stco/co64)".into())),
    };

    // Sample offsets from chunks.
    let mut offsets = Vec::with_capacity(count);
    let entries = &stbl.stsc.entries;
    for (i, entry) in entries.iter().enumerate() {
        let first = entry.first_chunk as usize;
        let last = entries.get(i + 1).map_or(chunk_offsets.len() + 1, |next| next.first_chunk as usize);
        if first == 0 || last < first {
            return Err(malformed("stsc", format!("chunk run {first}..{last} is out of order")));
        }
        for chunk in first..last {
            let Some(&base) = chunk_offsets.get(chunk - 1) else {
                return Err(malformed("stsc", format!("chunk {chunk} has no offset in stco/co64")));
            };
            let mut pos = base;
            for _ in 0..entry.samples_per_chunk {
                let Some(&size) = sizes.get(offsets.len()) else { break };
                offsets.push(pos);
                pos = pos.saturating_add(u64::from(size));
            }
        }
    }
    if offsets.len() != count {
        return Err(malformed("stsc", format!("maps {} samples, stsz lists {count}", offsets.len())));
    }

    // Decode times and durations.
    let mut durations = Vec::with_capacity(count);
    for e in &stbl.stts.entries {
        durations.extend(std::iter::repeat_n(e.sample_delta, e.sample_count as usize).take(count - durations.len()));
    }
    if durations.len() != count {
        return Err(malformed("stts", format!("times {} samples, stsz lists {count}", durations.len())));
    }

    // Composition offsets.
    let mut cts = Vec::with_capacity(count);
    if let Some(ctts) = &stbl.ctts {
        for e in &ctts.entries {
            cts.extend(std::iter::repeat_n(e.sample_offset, e.sample_count as usize).take(count - cts.len()));
        }
        if cts.len() != count {
            return Err(malformed("ctts", format!("offsets {} samples, stsz lists {count}", cts.len())));
        }
    } else {
        cts.resize(count, 0);
    }

    let mut sync = vec![stbl.stss.is_none(); count];
    if let Some(stss) = &stbl.stss {
        for &n in &stss.entries {
            let i = (n as usize).checked_sub(1).filter(|&i| i < count);
            let Some(i) = i else {
                return Err(malformed("stss", format!("sync sample {n} is not among the {count} samples")));
            };
            sync[i] = true;
        }
    }

    let mut samples = Vec::with_capacity(count);
    let mut raw_dts = 0i64;
    for i in 0..count {
        samples.push(Sample {
            dts: raw_dts - shift,
            pts: raw_dts + cts[i] - shift,
            duration: durations[i],
            offset: offsets[i],
            size: sizes[i],
            is_sync: sync[i],
        });
        raw_dts += i64::from(durations[i]);
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_sample_count_is_refused_before_allocating() {
        let mut stbl = Stbl::default();
        stbl.stsz.samples = StszSamples::Identical { count: u32::MAX, size: 1 };
        let err = flatten(&stbl, 0, SampleLimit { what: "video frame count", max: 1000 }).unwrap_err();
        assert_eq!(err.to_string(), "video frame count 4294967295 exceeds the limit of 1000");
    }
}
