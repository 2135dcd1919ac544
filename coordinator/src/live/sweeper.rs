//! Ends what broadcasts leave behind: a live channel whose publisher has
//! been gone longer than the reconnect grace is ended, and an ended channel
//! whose publish has wound down gets its `live_ended` (or, without a single
//! segment, its failure) published once. Every coordinator runs one; the
//! channel record's revision checks make one of them win each change, and
//! the events' dedupe ids make a repeated announcement harmless.

use std::collections::HashSet;
use std::time::Duration;

use crate::records::channels::ChannelState;
use tessera_core::clock::now_ms;
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

#[cfg(test)]
mod tests {
    //! The grace and lease rules on tokio's paused clock: minutes of channel
    //! life in milliseconds of test.

    use std::sync::Arc;

    use crate::records::channels::{ChannelBook, ChannelRecord};
    use crate::records::jobs::JobBook;
    use tessera_core::bus::{Bus, MemoryBus};
    use tessera_core::clock::{follow_tokio_clock, now_ms};
    use tessera_core::kv::MemoryKv;
    use tessera_core::wire::{job_events_subject, EVENTS_STREAM};
    use tessera_core::Store;

    use super::*;

    fn channel(id: &str, broadcasting: bool) -> ChannelRecord {
        serde_json::from_value(serde_json::json!({
            "id": id, "ladder": {"rungs": [{"codec": "h264", "height": 180, "bitrate_kbps": 300}]},
            "segment_duration_secs": 2.0, "window": 6, "speed": "veryfast", "class": "cpu",
            "output_prefix": format!("live/{id}"), "state": "live", "created_at_ms": now_ms(),
            "segments": 4, "broadcasting": broadcasting, "last_activity_ms": now_ms(),
        }))
        .unwrap()
    }

    async fn deps() -> LiveDeps {
        let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
        tessera_core::topology::ensure_streams(bus.as_ref()).await.unwrap();
        LiveDeps {
            bus,
            store: Store::in_memory(),
            jobs: JobBook::new(Arc::new(MemoryKv::new())),
            channels: ChannelBook::new(Arc::new(MemoryKv::new()), Arc::new(MemoryKv::new())),
        }
    }

    async fn state(deps: &LiveDeps, id: &str) -> (ChannelState, bool) {
        let (c, _) = deps.channels.get(id).await.unwrap().unwrap();
        (c.state, c.finalized)
    }

    /// How many `live_ended` events the channel's job got.
    async fn announced(deps: &LiveDeps, id: &str) -> usize {
        let events = deps.bus.history(EVENTS_STREAM, &job_events_subject(id)).await.unwrap();
        events
            .iter()
            .filter_map(|m| serde_json::from_slice::<JobEvent>(&m.message.payload).ok())
            .filter(|e| matches!(e.kind, JobEventKind::LiveEnded { segments: 4 }))
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_publisher_gone_past_the_grace_ends_its_broadcast_which_is_announced_once() {
        follow_tokio_clock();
        let deps = deps().await;
        deps.channels.create(&channel("gone", false), "key-gone").await.unwrap();
        let shutdown = CancellationToken::new();
        tokio::spawn(run(deps.clone(), Duration::from_secs(5), shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(4500)).await;
        assert_eq!(state(&deps, "gone").await, (ChannelState::Live, false), "within the reconnect grace");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(state(&deps, "gone").await, (ChannelState::Ended, false), "past the grace");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(state(&deps, "gone").await, (ChannelState::Ended, true), "announced at the next sweep");
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(announced(&deps, "gone").await, 1, "announced once");
        shutdown.cancel();
    }

    #[tokio::test(start_paused = true)]
    async fn a_lease_its_coordinator_stopped_renewing_goes_stale_and_a_renewed_one_never_does() {
        follow_tokio_clock();
        let deps = deps().await;
        // Its coordinator died holding the lease: renewed no more.
        deps.channels.create(&channel("orphan", true), "key-orphan").await.unwrap();
        // A healthy publish: its lease renewed every heartbeat.
        deps.channels.create(&channel("healthy", true), "key-healthy").await.unwrap();
        let renewing = {
            let channels = deps.channels.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(crate::records::channels::BROADCAST_HEARTBEAT_MS)).await;
                    channels
                        .update("healthy", |c| {
                            c.last_activity_ms = now_ms();
                            true
                        })
                        .await
                        .unwrap();
                }
            })
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(run(deps.clone(), Duration::from_secs(5), shutdown.clone()));
        let (orphan, _) = deps.channels.get("orphan").await.unwrap().unwrap();
        assert!(orphan.has_publisher(now_ms()));
        tokio::time::sleep(Duration::from_millis(3100)).await;
        let (orphan, _) = deps.channels.get("orphan").await.unwrap().unwrap();
        assert!(!orphan.has_publisher(now_ms()), "stale after three missed heartbeats");
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(state(&deps, "orphan").await, (ChannelState::Ended, false), "ended after the grace");
        // Ended, but its lease says a publish may still be cutting: announced only once the lease is stale too.
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(state(&deps, "orphan").await, (ChannelState::Ended, false));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(state(&deps, "orphan").await, (ChannelState::Ended, true));
        assert_eq!(announced(&deps, "orphan").await, 1);
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(state(&deps, "healthy").await, (ChannelState::Live, false), "a renewed lease never goes stale");
        renewing.abort();
        shutdown.cancel();
    }
}
