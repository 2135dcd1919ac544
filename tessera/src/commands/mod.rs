//! Subcommands and the exit-code rule: 0 success, 2 bad input, 1 internal error.

mod cluster;
mod config_file;
mod coordinator;
mod dev;
mod encode;
mod ops;
mod origin;
mod packager;
mod probe;
mod progress;
mod segment;
mod submit;
mod telemetry;
mod transcode;
mod worker;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tessera_coordinator::CoordinatorError;
use tessera_media::MediaError;
use tessera_worker::WorkerError;

/// Tessera: segment-parallel media transcoding.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about, after_help = encoders_help())]
pub struct Cli {
    /// TOML file of settings (keys are long flag names); flags and TESSERA_* variables win over it.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// Log lines as text or JSON (one object per line with job, segment and trace ids).
    #[arg(long, global = true, env = "TESSERA_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// Reads the command line, after the config file's settings are in place.
pub fn parse() -> anyhow::Result<Cli> {
    use clap::CommandFactory;
    let args: Vec<String> = std::env::args().collect();
    if let Some(file) = config_file::named(&args) {
        config_file::apply(std::path::Path::new(&file), &Cli::command())?;
    }
    Ok(Cli::parse())
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
        /// Target segment duration in seconds, 1-30 (cut at the first IDR at or after it).
        #[arg(long, default_value = "4")]
        segment_duration: tessera_core::SegmentDuration,
    },
    /// Transcode a file into an HLS + DASH ladder under DEST (a folder or an object store URL).
    Transcode(transcode::TranscodeArgs),
    /// Run the coordinator: HTTP API, segmenting of submitted jobs, job records (NATS + store).
    Coordinator(coordinator::CoordinatorArgs),
    /// Run a worker: encode tasks of one class and some codecs (NATS + store).
    Worker(worker::WorkerArgs),
    /// Run the packager: write manifests as jobs complete (NATS + store).
    Packager(packager::PackagerArgs),
    /// Serve the outputs over HTTP from the store, with LL-HLS blocking playlist reloads (store only).
    Origin(origin::OriginArgs),
    /// Everything in one process (API, RTMP ingest, workers, packager, outputs over HTTP): push and watch.
    Dev(dev::DevArgs),
    /// Submit a file or object URL to a coordinator; --wait follows it to the end.
    Submit(submit::SubmitArgs),
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
        /// Encoder: x264, openh264, svt-av1, rav1e (default: the codec's best in this build).
        #[arg(long)]
        encoder: Option<tessera_media::EncoderKind>,
        /// Output height in lines (width keeps the aspect ratio).
        #[arg(long, default_value_t = 360)]
        height: u32,
        /// Target bitrate in kbit/s (with --crf: the most any segment may average).
        #[arg(long, default_value_t = 700)]
        bitrate: u32,
        /// Capped quality mode: the encoder's CRF (x264 0-51, svt-av1 1-63) under --bitrate.
        #[arg(long)]
        crf: Option<u8>,
        /// Speed preset: veryfast, fast, medium, slow.
        #[arg(long, default_value = "veryfast")]
        speed: tessera_media::SpeedPreset,
        /// Target segment duration in seconds, 1-30.
        #[arg(long, default_value = "4")]
        segment_duration: tessera_core::SegmentDuration,
    },
    /// Internal: cut one upload for a coordinator (a request on stdin, frames
    /// on stdout), so a parser crash ends only this process.
    #[command(hide = true)]
    CutChild,
    /// Internal: encode one SVT-AV1 task for a worker (request and segment on
    /// stdin, fragment on stdout): SVT-AV1 1.4 is not safe with two encoders in one process.
    #[command(hide = true)]
    EncodeChild,
}

impl Command {
    /// The service name telemetry reports for this command.
    fn service(&self) -> &'static str {
        match self {
            Command::Coordinator(_) => "tessera-coordinator",
            Command::Worker(_) => "tessera-worker",
            Command::Packager(_) => "tessera-packager",
            Command::Origin(_) => "tessera-origin",
            Command::Dev(_) => "tessera-dev",
            Command::Submit(_) => "tessera-submit",
            _ => "tessera",
        }
    }
}

/// Runs the parsed command. Logs go to stderr: warnings by default,
/// `TESSERA_LOG` (e.g. `info`, `tessera_worker=debug`) to change.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(cli.command.service(), cli.log_format)?;
    match cli.command {
        Command::Probe { input } => probe::run(&input),
        Command::Segment { input, out, segment_duration } => segment::run(&input, &out, segment_duration),
        Command::Transcode(args) => transcode::run(args),
        Command::Coordinator(args) => coordinator::run(args),
        Command::Worker(args) => worker::run(args),
        Command::Packager(args) => packager::run(args),
        Command::Origin(args) => origin::run(args),
        Command::Submit(args) => submit::run(args),
        Command::Dev(args) => dev::run(args),
        Command::CutChild => std::process::exit(tessera_coordinator::cutting::run_child()),
        Command::EncodeChild => std::process::exit(tessera_worker::encode_child::run_child()),
        Command::Encode { input, out, codec, encoder, height, bitrate, crf, speed, segment_duration } => {
            let mut rung = tessera_core::Rung {
                codec: encoder.map_or(codec, |e| e.codec()),
                height,
                bitrate_kbps: bitrate,
                encoder,
                crf,
                max_frame_rate: None,
                speed: Some(speed),
            };
            rung.resolve_encoder(&tessera_media::BuildEncoders)?;
            encode::run(&input, &out, &rung, segment_duration)
        }
    }
}

/// Which video encoders this build has (the FFmpeg it loaded decides x264 and SVT-AV1).
pub fn encoders_help() -> String {
    use tessera_media::EncoderCatalog;
    let list: Vec<String> = tessera_media::BuildEncoders
        .availability()
        .into_iter()
        .map(|(e, has)| format!("{e} ({}{})", e.codec(), if has { "" } else { ", unavailable" }))
        .collect();
    let defaults = [tessera_media::VideoCodec::H264, tessera_media::VideoCodec::Av1]
        .map(|c| format!("{c}: {}", tessera_media::BuildEncoders.default_for(c)));
    format!("Video encoders in this build: {}. Defaults: {}.", list.join(", "), defaults.join(", "))
}

/// 2 when the input is at fault, 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let bad_input = err.chain().any(|cause| {
        cause.downcast_ref::<MediaError>().is_some_and(MediaError::is_bad_input)
            || cause.downcast_ref::<WorkerError>().is_some_and(WorkerError::is_bad_input)
            || cause.downcast_ref::<CoordinatorError>().is_some_and(CoordinatorError::is_bad_input)
            || cause.downcast_ref::<JobFailed>().is_some_and(|f| f.bad_input)
    });
    if bad_input {
        2
    } else {
        1
    }
}

/// A job that ended in failure, as its `failed` event says.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct JobFailed {
    /// The first failing segment, rendition and reason.
    pub reason: String,
    /// True when the input is at fault.
    pub bad_input: bool,
}

/// Reads and checks a ladder file (JSON, or TOML by its `.toml` extension).
fn read_ladder(path: &std::path::Path) -> anyhow::Result<tessera_core::Ladder> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read ladder {}", path.display()))?;
    let ladder = tessera_core::Ladder::from_file_text(&path.to_string_lossy(), &text)
        .with_context(|| format!("ladder {}", path.display()))?;
    ladder.validate().with_context(|| format!("ladder {}", path.display()))?;
    Ok(ladder)
}

/// Opens an input file, naming it in the error.
/// Checks that the input is a readable file, for a message naming it.
fn check_input(input: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::File::open(input).map(drop).with_context(|| format!("cannot open {}", input.display()))
}
