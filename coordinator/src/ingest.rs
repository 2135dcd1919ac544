//! Ingest: demux a source and hand each closed-GOP source segment, as a
//! self-contained fragmented MP4, to a sink (a store writer, a test).

use std::io::{Read, Seek};
use std::time::Duration;

use tessera_media::source_segment::cut_source_segment;
use tessera_media::{plan_segments, Limits, MediaError, Mp4Source, SegmentPlan};

/// One source segment ready to store as `sources/{job}/{seq:06}.mp4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSegment {
    /// Segment number from 0.
    pub seq: u32,
    /// Presentation start in the video timescale.
    pub start: i64,
    /// Duration in the video timescale.
    pub duration: i64,
    /// Video timescale.
    pub timescale: u32,
    /// Number of video frames.
    pub frames: usize,
    /// The fragmented MP4 bytes.
    pub bytes: Vec<u8>,
}

/// Demuxes `reader` and plans its segments: cuts at the first IDR at or after `target`.
pub fn plan_source<R: Read + Seek>(
    reader: &mut R,
    target: Duration,
    limits: &Limits,
) -> Result<(Mp4Source, Vec<SegmentPlan>), MediaError> {
    let source = Mp4Source::open(reader, limits)?;
    let plans = plan_segments(&source.video, source.audio.as_ref(), target)?;
    Ok((source, plans))
}

/// Cuts one planned segment out of the source.
pub fn cut_segment<R: Read + Seek>(
    reader: &mut R,
    source: &Mp4Source,
    plan: &SegmentPlan,
) -> Result<SourceSegment, MediaError> {
    Ok(SourceSegment {
        seq: plan.span.seq,
        start: plan.span.start_pts,
        duration: plan.span.duration(),
        timescale: source.video.timescale,
        frames: plan.span.video.len(),
        bytes: cut_source_segment(reader, source, plan)?,
    })
}

/// Demuxes `reader`, cuts it at the first IDR at or after `target`, and calls
/// `sink` with each segment in order (one segment in memory at a time).
/// Returns the demuxed source description.
pub fn segment_source<R, E>(
    reader: &mut R,
    target: Duration,
    limits: &Limits,
    mut sink: impl FnMut(SourceSegment) -> Result<(), E>,
) -> Result<Mp4Source, E>
where
    R: Read + Seek,
    E: From<MediaError>,
{
    let (source, plans) = plan_source(reader, target, limits)?;
    for plan in &plans {
        sink(cut_segment(reader, &source, plan)?)?;
    }
    Ok(source)
}
