//! `tessera probe INPUT`.

use std::path::Path;

use anyhow::Context;
use tessera_media::Limits;

pub fn run(input: &Path) -> anyhow::Result<()> {
    let mut file = super::open_input(input)?;
    let report =
        tessera_coordinator::probe(&mut file, &Limits::default()).with_context(|| format!("{}", input.display()))?;
    print!("{report}");
    Ok(())
}
