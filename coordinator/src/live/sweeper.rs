//! Ends what broadcasts leave behind: a live channel whose publisher has
//! been gone longer than the reconnect grace is ended, and an ended channel
//! whose publish has wound down gets its `live_ended` (or, without a single
//! segment, its failure) published once. Every coordinator runs one; the
//! channel record's revision checks make one of them win each change, and
//! the events' dedupe ids make a repeated announcement harmless.

use std::collections::HashSet;
use std::time::Duration;

use tessera_core::channels::ChannelState;
use tessera_core::jobs::now_ms;
use tessera_core::wire::{JobEvent, JobEventKind};
use tokio_util::sync::CancellationToken;

use super::broadcast::LiveDeps;
use crate::error::CoordinatorError;

/// How often channels are looked at.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long an ended channel's last publish may still be cutting its final segment.
const SETTLE_MS: u64 = 3000;

/// A lease not renewed for this long belongs to a coordinator that died.
const STALE_LEASE_MS: u64 = 10_000;

/// Sweeps until `shutdown`.
pub async fn run(deps: LiveDeps, grace: Duration, shutdown: CancellationToken) {
    let mut finalized = HashSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        if let Err(e) = sweep(&deps, grace, &mut finalized).await {
            tracing::warn!(error = %e, "sweeping live channels failed");
        }
    }
}

async fn sweep(deps: &LiveDeps, grace: Duration, finalized: &mut HashSet<String>) -> Result<(), CoordinatorError> {
    let grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX);
    for id in deps.channels.ids().await? {
        // Finalized channels never change again: not read again by this process.
        if finalized.contains(&id) {
            continue;
        }
        let Some((channel, _)) = deps.channels.get(&id).await? else { continue };
        if channel.finalized {
            finalized.insert(id);
            continue;
        }
        let now = now_ms();
        let quiet = now.saturating_sub(channel.last_activity_ms);
        match channel.state {
            ChannelState::Live if !channel.has_publisher(now) && quiet > grace_ms => {
                let reason = format!("no data for {} s", grace.as_secs());
                tracing::info!(channel = %id, %reason, "ending an abandoned broadcast");
                deps.channels.end(&id, None).await?;
            }
            // Announce the end once the last publish has let go (or its coordinator died).
            ChannelState::Ended if (!channel.broadcasting || quiet > STALE_LEASE_MS) && quiet > SETTLE_MS => {
                let mut won = false;
                deps.channels
                    .update(&id, |c| {
                        won = !c.finalized;
                        c.finalized = true;
                        won
                    })
                    .await?;
                if !won {
                    continue;
                }
                let has_job = deps.jobs.get(&id).await?.is_some();
                let kind = match channel.segments {
                    0 if has_job => JobEventKind::Failed {
                        reason: "the broadcast ended before its first segment".into(),
                        bad_input: true,
                    },
                    0 => continue,
                    segments => JobEventKind::LiveEnded { segments },
                };
                tracing::info!(channel = %id, segments = channel.segments, "broadcast finalized");
                deps.bus.publish(JobEvent::new(&id, kind).to_message()).await?;
            }
            _ => {}
        }
    }
    Ok(())
}
