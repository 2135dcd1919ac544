//! `tessera worker`: pulls tasks of one class and some codecs from NATS and encodes them.

use std::time::Duration;

use clap::Args;
use tessera_core::cancel::Cancellations;
use tessera_core::roster::Roster;
use tessera_core::topology::TaskDelivery;
use tessera_core::wire::{TaskCodec, WorkerClass};
use tessera_worker::{WorkerBooks, WorkerConfig, WorkerStores};

use super::cluster::{run_service, stop_on_signal, ClusterArgs};

/// Worker flags.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Task codecs to take, comma-separated: h264, av1, aac, image (thumbnails).
    #[arg(long, env = "TESSERA_CODECS", value_delimiter = ',', default_value = "h264,av1,aac,image")]
    codecs: Vec<TaskCodec>,
    /// Worker class whose subjects to serve: cpu or gpu. This build has no GPU
    /// encoder: a gpu worker encodes on the CPU (the fallback).
    #[arg(long, env = "TESSERA_CLASS", default_value = "cpu")]
    class: WorkerClass,
    /// Tasks run at once (default: the number of CPU cores).
    #[arg(long, env = "TESSERA_SLOTS")]
    slots: Option<usize>,
    /// Deprecated, ignored: every task's rung carries its job's speed (the
    /// job's `speed`). Accepted so older settings still start.
    #[arg(long, env = "TESSERA_SPEED", hide = true)]
    speed: Option<String>,
    /// Seconds a task may go without an in-progress ack before NATS gives it
    /// to another worker (workers ack every third of it while encoding).
    /// Every worker must use the same value: the last to start sets it.
    #[arg(long, env = "TESSERA_ACK_WAIT", default_value_t = 30)]
    ack_wait: u64,
    /// Address of /healthz, /readyz and /metrics (none: not served).
    #[arg(long, env = "TESSERA_OPS_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// Seconds to finish the tasks in hand after SIGTERM before handing them back.
    #[arg(long, env = "TESSERA_DRAIN_TIMEOUT", default_value_t = 60)]
    drain_timeout: u64,
}

/// Runs the worker until SIGTERM, then drains.
pub fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let (codecs, class) = (args.codecs.clone(), args.class);
    if let Some(speed) = &args.speed {
        tracing::warn!(%speed, "--speed / TESSERA_SPEED is ignored: a job's speed is set per job (its `speed`)");
    }
    if class == WorkerClass::Gpu {
        tracing::warn!("no GPU encoder in this build: the gpu class encodes on the CPU");
    }
    let default = WorkerConfig::default();
    let config = WorkerConfig {
        class,
        codecs,
        slots: args.slots.unwrap_or(default.slots).max(1),
        delivery: TaskDelivery { ack_wait: Duration::from_secs(args.ack_wait.max(1)), ..TaskDelivery::default() },
        drain_timeout: Duration::from_secs(args.drain_timeout),
        outage_window: args.cluster.outage_window(),
        encode_child: Some(std::env::current_exe()?),
        benchmark_task_time: None,
    };
    run_service(async move {
        let shutdown = stop_on_signal();
        let connected = args.cluster.connect().await?;
        let deps = connected.deps;
        let stores = WorkerStores { sources: deps.store.clone(), outputs: deps.store };
        let cancels = Some(Cancellations::follow(deps.cancelled));
        let books = WorkerBooks { cancels, roster: Some(Roster::new(deps.workers)) };
        if let Some(listen) = args.listen {
            // Up until the process exits, through the drain: probes and scrapes still answer.
            tokio::spawn(super::ops::serve(listen, connected.ready.clone()));
        }
        tracing::info!(class = class.as_str(), slots = config.slots, "worker started");
        tessera_worker::run(deps.bus, stores, config, books, shutdown).await?;
        Ok(())
    })
}
