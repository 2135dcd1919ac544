//! Subcommands and the exit-code rule: 0 success, 2 bad input, 1 internal error.

mod encode;
mod probe;
mod segment;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tessera_media::MediaError;
use tessera_worker::WorkerError;

/// Tessera: segment-parallel media transcoding.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what Tessera sees in a file (tracks, codec, profile, size, GOPs), or why it is rejected.
    Probe {
        /// The MP4/MOV file.
        input: PathBuf,
    },
    /// Cut a file into self-contained source segments (closed GOPs) as OUT/NNNNNN.mp4.
    Segment {
        /// The MP4/MOV file.
        input: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Target segment duration in seconds (cut at the first IDR at or after it).
        #[arg(long, default_value_t = 4.0)]
        segment_duration: f64,
    },
    /// Encode every segment of a file for one rung: OUT/init.mp4 + OUT/NNNNNN.m4s (CMAF).
    Encode {
        /// The MP4/MOV file.
        input: PathBuf,
        /// Output folder (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Codec: h264 or av1.
        #[arg(long, default_value = "h264")]
        codec: tessera_media::VideoCodec,
        /// Output height in lines (width keeps the aspect ratio).
        #[arg(long, default_value_t = 360)]
        height: u32,
        /// Target bitrate in kbit/s.
        #[arg(long, default_value_t = 700)]
        bitrate: u32,
        /// Speed preset: veryfast, fast, medium, slow.
        #[arg(long, default_value = "veryfast")]
        speed: tessera_media::SpeedPreset,
        /// Target segment duration in seconds.
        #[arg(long, default_value_t = 4.0)]
        segment_duration: f64,
    },
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Probe { input } => probe::run(&input),
        Command::Segment { input, out, segment_duration } => segment::run(&input, &out, segment_duration),
        Command::Encode { input, out, codec, height, bitrate, speed, segment_duration } => {
            let rung =
                tessera_core::Rung { codec, height, bitrate_kbps: bitrate, max_frame_rate: None, speed: Some(speed) };
            encode::run(&input, &out, &rung, segment_duration)
        }
    }
}

/// 2 when the input is at fault, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|cause| {
        cause.downcast_ref::<MediaError>().is_some_and(MediaError::is_bad_input)
            || cause.downcast_ref::<WorkerError>().is_some_and(WorkerError::is_bad_input)
    });
    if bad_input {
        2
    } else {
        1
    }
}

/// Parses a segment duration argument.
fn target_duration(secs: f64) -> anyhow::Result<std::time::Duration> {
    anyhow::ensure!(
        secs.is_finite() && (0.1..=60.0).contains(&secs),
        "--segment-duration must be within 0.1..=60 seconds"
    );
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Opens an input file, naming it in the error.
fn open_input(input: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use anyhow::Context;
    std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))
}
