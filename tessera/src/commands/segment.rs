//! `tessera segment INPUT --out DIR`.

use std::path::Path;

use anyhow::Context;
use tessera_media::Limits;

pub fn run(input: &Path, out: &Path, segment_duration: f64) -> anyhow::Result<()> {
    let target = super::target_duration(segment_duration)?;
    let mut file = super::open_input(input)?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let source =
        tessera_coordinator::segment_source(&mut file, target, &Limits::default(), |seg| -> anyhow::Result<()> {
            let path = out.join(format!("{:06}.mp4", seg.seq));
            std::fs::write(&path, &seg.bytes).with_context(|| format!("cannot write {}", path.display()))?;
            println!(
                "{}: {} frames, {:.3} s from {:.3} s",
                path.display(),
                seg.frames,
                seg.duration as f64 / f64::from(seg.timescale),
                seg.start as f64 / f64::from(seg.timescale)
            );
            Ok(())
        })
        .with_context(|| format!("{}", input.display()))?;
    for w in &source.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}
