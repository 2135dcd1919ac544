//! The `tessera` binary: parses the command line and dispatches.

mod commands;

use std::process::ExitCode;

fn main() -> ExitCode {
    match commands::parse().and_then(commands::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(commands::exit_code(&err))
        }
    }
}
