//! `tessera segment INPUT --out DIR`.

use std::path::Path;

use anyhow::Context;
use tessera_core::SegmentDuration;
use tessera_media::Limits;

pub fn run(input: &Path, out: &Path, segment_duration: SegmentDuration) -> anyhow::Result<()> {
    let target = segment_duration.duration();
    super::check_input(input)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let plan = tessera_coordinator::segment_source(input, target, &Limits::default(), |seg| -> anyhow::Result<()> {
        let path = out.join(format!("{:06}.seg", seg.seq));
        std::fs::write(&path, &seg.bytes).with_context(|| format!("cannot write {}", path.display()))?;
        println!(
            "{}: {} frames, {:.3} s from {:.3} s{}",
            path.display(),
            seg.frames,
            seg.duration_secs,
            seg.start_secs,
            if seg.preroll > 0 { format!(", {} frames of pre-roll", seg.preroll) } else { String::new() }
        );
        Ok(())
    })
    .with_context(|| format!("{}", input.display()))?;
    for codec in plan.audio.iter().filter_map(|a| a.transcoded_from.as_deref()) {
        eprintln!("note: {codec} audio encoded to AAC-LC");
    }
    Ok(())
}
