//! `tessera encode INPUT --out DIR`: the coordinator's segmenter and the
//! worker's per-segment pipeline in one process, for one rung.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use tessera_core::{Rung, SegmentDuration};
use tessera_media::Limits;

pub fn run(input: &Path, out: &Path, rung: &Rung, segment_duration: SegmentDuration) -> anyhow::Result<()> {
    let target = segment_duration.duration();
    super::check_input(input)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let frame_rate = tessera_coordinator::probe(input, &Limits::default())
        .with_context(|| format!("{}", input.display()))?
        .info
        .video
        .frame_rate;
    let started = Instant::now();
    let mut first_config = None;
    let mut media_secs = 0.0;
    let mut bytes = 0usize;
    tessera_coordinator::segment_source(input, target, &Limits::default(), |seg| -> anyhow::Result<()> {
        let rendition = tessera_worker::transcode_segment(&seg.bytes, seg.seq, rung, frame_rate)
            .with_context(|| format!("segment {}", seg.seq))?;
        match &first_config {
            None => {
                let size = (rendition.width, rendition.height);
                let init = tessera_packager::rendition_init(&rendition.config, rendition.timescale, size, 0)?;
                std::fs::write(out.join("init.mp4"), init).context("cannot write init.mp4")?;
                println!("{}: {}x{} {}", rung.name(), rendition.width, rendition.height, rendition.codec_string);
                first_config = Some(rendition.config.clone());
            }
            Some(first) => tessera_packager::init::check_same_config(&rung.name(), first, seg.seq, &rendition.config)?,
        }
        let path = out.join(format!("{:06}.m4s", seg.seq));
        std::fs::write(&path, &rendition.fragment).with_context(|| format!("cannot write {}", path.display()))?;
        let secs = rendition.duration as f64 / f64::from(rendition.timescale);
        media_secs += secs;
        bytes += rendition.fragment.len();
        println!(
            "  {}: {} frames, {:.3} s, {:.0} kbit/s",
            path.display(),
            rendition.frames,
            secs,
            rendition.fragment.len() as f64 * 8.0 / secs / 1000.0
        );
        Ok(())
    })
    .with_context(|| format!("{}", input.display()))?;
    let wall = started.elapsed().as_secs_f64();
    println!(
        "done: {media_secs:.2} s of video in {wall:.2} s ({:.2}x realtime), {:.0} kbit/s average",
        media_secs / wall.max(1e-9),
        bytes as f64 * 8.0 / media_secs.max(1e-9) / 1000.0
    );
    println!("play: cat {0}/init.mp4 {0}/*.m4s > out.mp4 && ffplay out.mp4", out.display());
    Ok(())
}
