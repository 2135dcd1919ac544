//! `tessera probe INPUT`.

use std::path::Path;

use anyhow::Context;
use tessera_media::Limits;

pub fn run(input: &Path) -> anyhow::Result<()> {
    super::check_input(input)?;
    let report =
        tessera_coordinator::probe(input, &Limits::default()).with_context(|| format!("{}", input.display()))?;
    print!("{report}");
    println!("{}", super::encoders_help());
    Ok(())
}
