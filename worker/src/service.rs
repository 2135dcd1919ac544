//! The worker service: serves the task queues of its class and codecs (in
//! [`polling_order`], `slots` tasks at a time, through the one consumer loop,
//! [`tessera_core::bus::serve`]) with the task runner (`task.rs`); keeps
//! its status in the roster while it runs; on shutdown, gives the tasks in
//! hand `drain_timeout` to finish before they are handed back.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::backoff::DEFAULT_OUTAGE_WINDOW;
use tessera_core::bus::{serve, Bus, Serve};
use tessera_core::cancel::Cancellations;
use tessera_core::roster::Roster;
use tessera_core::topology::{task_consumer_config, TaskDelivery};
use tessera_core::wire::{TaskCodec, TaskPriority, WorkerClass, TASKS_STREAM};
use tessera_core::Store;
use tokio_util::sync::CancellationToken;

use crate::error::WorkerError;
use crate::status::{Listing, RunningTasks};
use crate::task::TaskRunner;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Which class of task subjects to serve.
    pub class: WorkerClass,
    /// Which codecs to take tasks for.
    pub codecs: Vec<TaskCodec>,
    /// Tasks run at once (each on one thread).
    pub slots: usize,
    /// The task consumers' delivery settings.
    pub delivery: TaskDelivery,
    /// After shutdown, how long tasks in hand may run before they are
    /// nak'ed for another worker.
    pub drain_timeout: Duration,
    /// How long a task retries store and bus errors in place before it gives
    /// up its delivery (an outage shorter than this costs no attempt).
    pub outage_window: Duration,
    /// The program to run `encode-child` with for SVT-AV1 tasks, one child
    /// per task ([`crate::encode_child`]); `None`: in this process, one SVT-AV1
    /// task at a time is then the caller's business (tests, library use).
    pub encode_child: Option<std::path::PathBuf>,
    /// Benchmarks only: replace decoding and encoding with a stand-in that
    /// takes exactly this long per task (see [`crate::benchmark::fixed_time_stand_in`]), to
    /// measure the dispatch path without the codecs. The output is not the video.
    pub benchmark_task_time: Option<Duration>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            class: WorkerClass::Cpu,
            codecs: TaskCodec::ALL.to_vec(),
            slots: std::thread::available_parallelism().map_or(1, usize::from),
            delivery: TaskDelivery::default(),
            drain_timeout: Duration::from_secs(60),
            outage_window: DEFAULT_OUTAGE_WINDOW,
            encode_child: None,
            benchmark_task_time: None,
        }
    }
}

/// Where a worker reads sources and writes outputs (the same store in the
/// cluster; a scratch folder and the destination in `tessera transcode`).
#[derive(Debug, Clone)]
pub struct WorkerStores {
    /// Holds `sources/{job}/{seq}.mp4`.
    pub sources: Store,
    /// Receives the fragments.
    pub outputs: Store,
}

/// The cluster's records a worker uses when it has them (none in `tessera transcode`).
#[derive(Clone, Default)]
pub struct WorkerBooks {
    /// Cancelled jobs: their tasks are dropped, and running ones stop at once.
    pub cancels: Option<Cancellations>,
    /// The worker roster: this worker's status is written there.
    pub roster: Option<Roster>,
}

/// What every task of this worker shares.
pub(crate) struct Shared {
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) stores: WorkerStores,
    pub(crate) config: WorkerConfig,
    /// Cancelled jobs (none in `tessera transcode`).
    pub(crate) cancels: Option<Cancellations>,
    /// Tasks running now (for the roster).
    pub(crate) running: Arc<RunningTasks>,
}

/// Runs a worker until `shutdown` is cancelled. It then stops taking tasks
/// and gives those in hand `drain_timeout` to finish; the rest are nak'ed so
/// another worker takes them at once. With cancellations, tasks of cancelled
/// jobs are dropped, and a running one stops before writing; with a roster,
/// the worker's status is kept there while it runs.
pub async fn run(
    bus: Arc<dyn Bus>,
    stores: WorkerStores,
    config: WorkerConfig,
    books: WorkerBooks,
    shutdown: CancellationToken,
) -> Result<(), WorkerError> {
    tessera_core::topology::ensure_streams(bus.as_ref()).await?;
    let consumers: Vec<_> = polling_order(&config.codecs)
        .into_iter()
        .map(|(codec, priority)| task_consumer_config(config.class, codec, priority, config.delivery))
        .collect();
    let shared = Arc::new(Shared {
        bus: bus.clone(),
        stores,
        config: config.clone(),
        cancels: books.cancels,
        running: Arc::default(),
    });
    let listed = books.roster.map(|roster| Listing::start(roster, &config, shared.running.clone()));
    let serving = Serve::concurrent(config.slots.max(1), config.drain_timeout);
    let served = serve(bus.as_ref(), TASKS_STREAM, &consumers, serving, &shutdown, Arc::new(TaskRunner(shared))).await;
    if let Some(listed) = listed {
        listed.stop().await;
    }
    Ok(served?)
}

/// The queues in the order they are polled. First every
/// [`TaskPriority::First`] queue, so a job's first rendition plays within
/// seconds whatever else is queued: audio (stream copies of milliseconds,
/// and segment 0 of the audio is needed to play), the first video rendition,
/// then thumbnails (the poster and seek-bar pictures come right after).
/// Then the rest by codec, longest tasks first: AV1, then H.264, then
/// thumbnails, then AAC. Taking the long tasks first keeps every slot busy
/// to the end of a job (the classic longest-processing-time rule) instead
/// of leaving one AV1 task running alone.
fn polling_order(codecs: &[TaskCodec]) -> Vec<(TaskCodec, TaskPriority)> {
    let first = [TaskCodec::Aac, TaskCodec::H264, TaskCodec::Av1, TaskCodec::Image].map(|c| (c, TaskPriority::First));
    let rest = [TaskCodec::Av1, TaskCodec::H264, TaskCodec::Image, TaskCodec::Aac].map(|c| (c, TaskPriority::Rest));
    first.into_iter().chain(rest).filter(|(codec, _)| codecs.contains(codec)).collect()
}
