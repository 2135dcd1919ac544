//! `tessera transcode INPUT --out DEST`: the embedded pipeline. Coordinator,
//! `--workers` worker slots and the packager run in this process over the
//! in-process bus; source segments go to a scratch folder, the package to
//! DEST (a folder or an object store URL) in the cluster's layout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_coordinator::cutting::Cutter;
use tessera_coordinator::{run_vod_job, VodJobSpec};
use tessera_core::bus::{Bus, ConsumerConfig, MemoryBus};
use tessera_core::topology::ensure_streams;
use tessera_core::wire::{job_events_subject, JobEvent, JobEventKind, WorkerClass, EVENTS_STREAM};
use tessera_core::{Ladder, SegmentDuration, Store};
use tessera_media::{Limits, SpeedPreset, VideoCodec};
use tessera_packager::JobReport;
use tessera_worker::{WorkerConfig, WorkerStores};
use tokio_util::sync::CancellationToken;

use super::JobFailed;

/// What `tessera transcode` was asked to do.
#[derive(Debug, clap::Args)]
pub struct TranscodeArgs {
    /// The MP4/MOV file (H.264 video, optional AAC audio).
    pub input: PathBuf,
    /// Destination: a folder (created if missing) or a URL such as s3://bucket/prefix.
    #[arg(long)]
    pub out: String,
    /// Video codecs of the ladder, comma-separated: h264, av1.
    #[arg(long, value_delimiter = ',', default_value = "h264,av1")]
    pub codecs: Vec<VideoCodec>,
    /// Ladder file (JSON, or TOML by its .toml extension) instead of the default ladder, or `auto`:
    /// the default ladder fitted to this input by a probe (per-title: bitrates it needs, rungs that show more).
    #[arg(long)]
    pub ladder: Option<PathBuf>,
    /// Target segment duration in seconds, 1-30 (cut at the first IDR at or after it).
    #[arg(long, default_value = "4")]
    pub segment_duration: SegmentDuration,
    /// Tasks encoded at once (default: the number of CPU cores).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Encoder speed for rungs that set none: veryfast, fast, medium, slow.
    #[arg(long, default_value = "veryfast")]
    pub speed: SpeedPreset,
    /// Seconds between seek-bar thumbnails (thumbnails.vtt, thumbnails/*.jpg); 0: no thumbnails or poster.
    #[arg(long, default_value_t = tessera_core::wire::DEFAULT_THUMBNAIL_INTERVAL_SECS)]
    pub thumbnail_interval: f64,
    /// Audio languages to keep, comma-separated as the input tags its tracks (eng,fra); default: every track.
    #[arg(long, value_delimiter = ',')]
    pub audio_languages: Vec<String>,
    /// A subtitle file (WebVTT or SRT) as a subtitle rendition: LANG=FILE, e.g. en=film.srt (repeatable).
    #[arg(long = "subtitles", value_name = "LANG=FILE")]
    pub subtitles: Vec<String>,
}

/// The `--subtitles LANG=FILE` files as subtitle renditions (a bad one is exit 2 with its reason).
fn load_subtitles(args: &TranscodeArgs) -> anyhow::Result<Vec<tessera_core::wire::SubtitleTrack>> {
    let mut tracks = Vec::new();
    for arg in &args.subtitles {
        let Some((language, path)) = arg.split_once('=') else {
            anyhow::bail!(JobFailed { reason: format!("--subtitles {arg}: expected LANG=FILE"), bad_input: true });
        };
        let bytes = std::fs::read(path).with_context(|| format!("cannot read --subtitles {path}"))?;
        match tessera_coordinator::subtitles::subtitle_track(&bytes, language, None, &tracks) {
            Ok(track) => tracks.push(track),
            Err(e) => anyhow::bail!(JobFailed { reason: format!("{path}: {e}"), bad_input: true }),
        }
    }
    Ok(tracks)
}

fn load_ladder(args: &TranscodeArgs) -> anyhow::Result<Ladder> {
    let mut ladder = match &args.ladder {
        None => Ladder::default_for(&args.codecs),
        // Per-title: the default ladder fitted to the input by a probe.
        Some(path) if path.as_os_str() == "auto" => Ladder { per_title: true, ..Ladder::default_for(&args.codecs) },
        Some(path) => super::read_ladder(path)?,
    };
    ladder.rungs.retain(|r| args.codecs.contains(&r.codec));
    anyhow::ensure!(
        !ladder.rungs.is_empty(),
        JobFailed { reason: "the ladder has no rung for the requested --codecs".into(), bad_input: true }
    );
    if let Err(e) = ladder.resolve_encoders(&tessera_media::BuildEncoders) {
        anyhow::bail!(JobFailed { reason: e.to_string(), bad_input: true });
    }
    Ok(ladder)
}

pub fn run(args: TranscodeArgs) -> anyhow::Result<()> {
    let ladder = load_ladder(&args)?;
    super::check_input(&args.input)?;
    let subtitles = load_subtitles(&args)?;
    anyhow::ensure!(
        args.thumbnail_interval == 0.0 || (1.0..=60.0).contains(&args.thumbnail_interval),
        "--thumbnail-interval must be 0 (none) or 1-60 seconds"
    );
    let slots = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from)).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(slots + 2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let outputs = Store::open(&args.out).with_context(|| format!("cannot open --out {}", args.out))?;
        // A failed run must not leave an earlier run's finished-looking manifests behind.
        for name in tessera_packager::vod::TOP_LEVEL_OUTPUTS {
            outputs.delete(name).await?;
        }
        let scratch = tempfile::tempdir().context("cannot create a scratch folder")?;
        let sources = Store::local_dir(scratch.path())?;
        let job = format!("transcode-{}", std::process::id());
        let spec = VodJobSpec {
            job: job.clone(),
            ladder,
            segment_duration: args.segment_duration,
            speed: args.speed,
            output_prefix: String::new(),
            class: WorkerClass::Cpu,
            limits: Limits::default(),
            traceparent: None,
            // A source that crashes the parser is exit 2 with its reason, not an abort.
            cutter: Cutter::Child(std::env::current_exe().context("cannot find this program to cut with")?),
            outage_window: tessera_core::backoff::DEFAULT_OUTAGE_WINDOW,
            submitted_at_ms: Some(tessera_core::clock::now_ms()),
            thumbnail_interval_secs: args.thumbnail_interval,
            audio_languages: args.audio_languages.clone(),
            subtitles,
        };
        let mut pipeline = Pipeline::start(outputs, sources, slots).await?;
        let result = pipeline.run_job(&spec, &args.input).await;
        pipeline.stop().await;
        let (report, elapsed) = result?;
        print_summary(&report, elapsed, &args.out);
        Ok(())
    })
}

/// The services of one process, on one in-process bus.
struct Pipeline {
    bus: Arc<dyn Bus>,
    shutdown: CancellationToken,
    services: tokio::task::JoinSet<anyhow::Result<()>>,
    sources: Store,
    outputs: Store,
}

impl Pipeline {
    async fn start(outputs: Store, sources: Store, slots: usize) -> anyhow::Result<Self> {
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
        ensure_streams(bus.as_ref()).await?;
        let shutdown = CancellationToken::new();
        let mut services = tokio::task::JoinSet::new();
        let worker_config = WorkerConfig {
            slots,
            encode_child: Some(std::env::current_exe().context("cannot find this program to encode with")?),
            ..WorkerConfig::default()
        };
        let stores = WorkerStores { sources: sources.clone(), outputs: outputs.clone() };
        let (b, s) = (bus.clone(), shutdown.clone());
        services.spawn(async move { Ok(tessera_worker::run(b, stores, worker_config, Default::default(), s).await?) });
        let (b, s, o) = (bus.clone(), shutdown.clone(), outputs.clone());
        services.spawn(async move {
            Ok(tessera_packager::run(b, o, tessera_core::backoff::DEFAULT_OUTAGE_WINDOW, s).await?)
        });
        Ok(Self { bus, shutdown, services, sources, outputs })
    }

    async fn stop(mut self) {
        self.shutdown.cancel();
        while self.services.join_next().await.is_some() {}
    }

    /// Publishes the job and follows its events to the end.
    async fn run_job(&mut self, spec: &VodJobSpec, input: &std::path::Path) -> anyhow::Result<(JobReport, Duration)> {
        let started = Instant::now();
        let watch = self
            .bus
            .consumer(
                EVENTS_STREAM,
                &ConsumerConfig {
                    durable: format!("watch-{}", spec.job),
                    filter_subject: job_events_subject(&spec.job),
                    ack_wait: Duration::from_secs(60),
                    max_deliver: 1,
                    max_ack_pending: 100_000,
                    dead_letter_subject: None,
                },
            )
            .await?;
        let never = tokio_util::sync::CancellationToken::new();
        let coordinator = run_vod_job(self.bus.as_ref(), &self.sources, spec, input.to_path_buf(), &never);
        let mut coordinator = std::pin::pin!(coordinator);
        let mut publishing = true;
        let mut progress = super::progress::Progress::default();
        loop {
            tokio::select! {
                result = &mut coordinator, if publishing => {
                    publishing = false;
                    result.with_context(|| input.display().to_string())?;
                }
                Some(stopped) = self.services.join_next() => {
                    stopped.context("a service panicked")??;
                    anyhow::bail!("a service stopped before the job ended");
                }
                fetched = watch.fetch(256, Duration::from_millis(500)) => {
                    for delivery in fetched? {
                        delivery.ack().await?;
                        let Ok(event) = serde_json::from_slice::<JobEvent>(&delivery.payload) else { continue };
                        match event.kind {
                            JobEventKind::Planned(plan) => progress.start(plan.tasks()),
                            JobEventKind::SegmentDone(_) => progress.advance(),
                            JobEventKind::Packaged { .. } => {
                                progress.finish();
                                let text = self.outputs.get("report.json").await?;
                                let report: JobReport = serde_json::from_slice(&text).context("report.json")?;
                                return Ok((report, started.elapsed()));
                            }
                            JobEventKind::Failed { reason, bad_input } => {
                                progress.finish();
                                return Err(JobFailed { reason, bad_input }.into());
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

fn print_summary(report: &JobReport, elapsed: Duration, out: &str) {
    println!("{:<12} {:>10} {:>16} {:>9} {:>9}", "rendition", "resolution", "kbit/s avg/peak", "PSNR dB", "segments");
    for r in &report.renditions {
        let resolution = if r.width > 0 { format!("{}x{}", r.width, r.height) } else { "audio".into() };
        let psnr = r.psnr_db.map_or_else(|| "-".into(), |p| format!("{p:.2}"));
        println!(
            "{:<12} {:>10} {:>16} {:>9} {:>9}",
            r.name,
            resolution,
            format!("{:.0}/{:.0}", r.average_bitrate_kbps, r.peak_bitrate_kbps),
            psnr,
            r.segments
        );
    }
    let media = report.source.duration_secs;
    let wall = elapsed.as_secs_f64();
    println!(
        "done: {media:.2} s of video in {wall:.2} s ({:.2}x realtime); CPU {:.1} s",
        media / wall.max(1e-9),
        report.renditions.iter().map(|r| r.encode_cpu_secs).sum::<f64>()
    );
    if let Some(t) = &report.timing {
        println!(
            "{} was playable after {:.2} s (master.m3u8 listed it while the rest was encoded)",
            t.first_rendition, t.playable_after_secs
        );
    }
    let base = out.trim_end_matches('/');
    println!("HLS:  {base}/master.m3u8\nDASH: {base}/manifest.mpd\nreport: {base}/report.json");
}
