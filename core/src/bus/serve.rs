//! The one consumer loop every service runs: open the durable consumers,
//! fetch, hand each delivery to a [`Handler`], and settle it by the
//! [`Settle`] the handler returns. The rules live here and nowhere else:
//!
//! - **ack** on [`Settle::Ack`];
//! - **nak with back-off** on [`Settle::Retry`]: delivered again after as many
//!   seconds as it has been delivered (at most 30); its last delivery's failure
//!   goes to [`Handler::gave_up`] first, whose default lets the bus dead-letter it;
//! - **nak after a set delay** on [`Settle::RetryAfter`] (not ready yet);
//! - **hand back** at once on [`Settle::HandBack`] (stopping), so another
//!   service instance takes it;
//! - **in progress**: while a handler runs, an in-progress ack every third of
//!   the consumer's ack wait keeps the delivery its own, however long it takes
//!   and through a bus outage (the first beat after it counts);
//! - **fetching** from several consumers polls them in the order given (the
//!   first with a message wins: priority queues), a failed fetch is retried
//!   after a second, and a consumer that cannot be opened while the bus is
//!   unreachable is retried until it can or the service stops (a refusal,
//!   e.g. a bad configuration, is returned);
//! - **stopping**: no new fetch after `shutdown`; a batch fetched in order
//!   is handled to its end (handing it back would spend a delivery of each);
//!   concurrent deliveries in hand get [`Serve::drain`] to finish, then
//!   `abandon` fires and their handlers hand them back.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Bus, BusError, Consumer, ConsumerConfig, Delivery};

/// How a handled delivery is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settle {
    /// Done, or nothing to do: never delivered again.
    Ack,
    /// Failed for now (the reason is logged): delivered again after the back-off.
    Retry(String),
    /// Not ready yet (e.g. an event that overtook the one it follows):
    /// delivered again after this delay.
    RetryAfter(Duration),
    /// The service is stopping: delivered again at once, to whoever fetches next.
    HandBack,
}

/// What a service does with each delivery.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Handles one delivery. `abandon` fires when the service stops and the
    /// drain time is over: return [`Settle::HandBack`] then.
    async fn handle(&self, delivery: &Delivery, abandon: &CancellationToken) -> Settle;

    /// The last delivery allowed by the consumer did not succeed either
    /// (`reason`; a [`Settle::Retry`] or [`Settle::RetryAfter`]): the
    /// handler's last word, e.g. failing the job, and how to settle it. By
    /// default it is nak'ed: the bus dead-letters it where the consumer has a
    /// dead-letter subject, else it is dropped.
    async fn gave_up(&self, delivery: &Delivery, reason: &str) -> Settle {
        let _ = delivery;
        Settle::Retry(reason.to_string())
    }
}

/// How consumers are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Serve {
    /// Messages fetched at once when handling one at a time.
    pub batch: usize,
    /// Deliveries handled at once; 1 handles them one after another, in order.
    pub concurrency: usize,
    /// After `shutdown`, how long the deliveries in hand may finish before `abandon` fires.
    pub drain: Duration,
}

impl Serve {
    /// One at a time, in order, `batch` fetched at once; handed back at once on shutdown.
    pub fn in_order(batch: usize) -> Self {
        Self { batch: batch.max(1), concurrency: 1, drain: Duration::ZERO }
    }

    /// Up to `concurrency` at once, each fetched when a slot frees; `drain` to finish on shutdown.
    pub fn concurrent(concurrency: usize, drain: Duration) -> Self {
        Self { batch: 1, concurrency: concurrency.max(1), drain }
    }
}

/// The longest back-off of [`Settle::Retry`].
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Longest pause between polls of several consumers when none has work.
const IDLE_POLL: Duration = Duration::from_millis(250);

/// A consumer found empty (among several) is not polled again for this long,
/// so a busy queue is not slowed by a round trip to an idle one before each message.
const EMPTY_QUEUE_REST: Duration = Duration::from_millis(200);

/// How long one consumer's fetch waits for messages.
const FETCH_WAIT: Duration = Duration::from_secs(1);

/// The back-off of a delivery that failed: a second per delivery so far, at most [`MAX_BACKOFF`].
fn retry_backoff(delivered: u32) -> Duration {
    Duration::from_secs(u64::from(delivered.max(1))).min(MAX_BACKOFF)
}

struct Served {
    consumer: Box<dyn Consumer>,
    config: ConsumerConfig,
    rest_until: Instant,
}

/// Serves the durable consumers `configs` of `stream` (polled in that order)
/// with `handler` until `shutdown`, then drains; returns once every delivery
/// in hand is settled. Fails only when the bus refuses a consumer.
pub async fn serve<H: Handler>(
    bus: &dyn Bus,
    stream: &str,
    configs: &[ConsumerConfig],
    options: Serve,
    shutdown: &CancellationToken,
    handler: Arc<H>,
) -> Result<(), BusError> {
    let mut consumers = Vec::with_capacity(configs.len());
    for config in configs {
        let Some(consumer) = open(bus, stream, config, shutdown).await? else { return Ok(()) };
        consumers.push(Served { consumer, config: config.clone(), rest_until: Instant::now() });
    }
    if consumers.is_empty() {
        // Nothing to serve (e.g. no codec): wait for the end rather than spin.
        shutdown.cancelled().await;
        return Ok(());
    }
    let abandon = CancellationToken::new();
    let abandoning = {
        let (shutdown, abandon, drain) = (shutdown.clone(), abandon.clone(), options.drain);
        tokio::spawn(async move {
            shutdown.cancelled().await;
            tokio::time::sleep(drain).await;
            abandon.cancel();
        })
    };
    let slots = Arc::new(Semaphore::new(options.concurrency));
    let mut running = tokio::task::JoinSet::new();
    let several = consumers.len() > 1;
    let mut idle = Duration::from_millis(10);
    'serve: loop {
        while running.try_join_next().is_some() {}
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        for served in consumers.iter_mut() {
            if several && Instant::now() < served.rest_until {
                continue;
            }
            // Several consumers are polled without waiting, so a message on any is taken at once.
            let wait = if several { Duration::ZERO } else { FETCH_WAIT };
            let max = if options.concurrency == 1 { options.batch } else { 1 };
            let fetched = tokio::select! {
                _ = shutdown.cancelled() => break 'serve,
                fetched = served.consumer.fetch(max, wait) => fetched,
            };
            let deliveries = match fetched {
                Ok(deliveries) if deliveries.is_empty() => {
                    served.rest_until = Instant::now() + EMPTY_QUEUE_REST;
                    continue;
                }
                Ok(deliveries) => deliveries,
                Err(e) => {
                    tracing::warn!(error = %e, consumer = %served.config.durable, "fetching failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => break 'serve,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            };
            idle = Duration::from_millis(10);
            if options.concurrency == 1 {
                for delivery in deliveries {
                    let settle = handle(handler.as_ref(), &delivery, &served.config, &abandon).await;
                    settle_delivery(handler.as_ref(), &delivery, &served.config, settle).await;
                }
                drop(permit);
            } else if let Some(delivery) = deliveries.into_iter().next() {
                // One fetched per free slot.
                let (handler, config, abandon) = (handler.clone(), served.config.clone(), abandon.clone());
                running.spawn(async move {
                    let settle = handle(handler.as_ref(), &delivery, &config, &abandon).await;
                    settle_delivery(handler.as_ref(), &delivery, &config, settle).await;
                    drop(permit);
                });
            }
            continue 'serve;
        }
        drop(permit);
        if several {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(idle) => {}
            }
            idle = (idle * 2).min(IDLE_POLL);
        }
    }
    if !running.is_empty() {
        tracing::info!(in_hand = running.len(), drain = ?options.drain, "stopping: finishing the deliveries in hand");
    }
    while running.join_next().await.is_some() {}
    abandoning.abort();
    Ok(())
}

/// Opens a consumer, retrying every second while the bus is unreachable
/// until it can be or `shutdown` (then `None`): a service's loops run beside
/// its API or its health checks, so one that gave up at start (NATS
/// restarting) would leave the service up while nothing is served. A
/// refusal (a bad configuration) is returned.
async fn open(
    bus: &dyn Bus,
    stream: &str,
    config: &ConsumerConfig,
    shutdown: &CancellationToken,
) -> Result<Option<Box<dyn Consumer>>, BusError> {
    loop {
        match bus.consumer(stream, config).await {
            Ok(consumer) => return Ok(Some(consumer)),
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %e, consumer = %config.durable, "cannot open a consumer yet; retrying")
            }
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(None),
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Runs the handler, sending in-progress acks every third of the ack wait meanwhile.
async fn handle<H: Handler>(
    handler: &H,
    delivery: &Delivery,
    config: &ConsumerConfig,
    abandon: &CancellationToken,
) -> Settle {
    let handled = handler.handle(delivery, abandon);
    tokio::pin!(handled);
    let every = (config.ack_wait / 3).max(Duration::from_millis(10));
    let mut beat = tokio::time::interval_at(Instant::now() + every, every);
    loop {
        tokio::select! {
            settle = &mut handled => return settle,
            // Bounded, so a bus that hangs cannot stall the handler beside it.
            _ = beat.tick() => match tokio::time::timeout(every, delivery.in_progress()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "in-progress ack failed"),
                Err(_) => tracing::debug!("in-progress ack timed out"),
            },
        }
    }
}

/// Settles a handled delivery by the rules in the module documentation.
async fn settle_delivery<H: Handler>(handler: &H, delivery: &Delivery, config: &ConsumerConfig, settle: Settle) {
    let last = delivery.delivered >= config.max_deliver;
    let settle = match settle {
        Settle::Retry(reason) if last => {
            tracing::warn!(consumer = %config.durable, subject = %delivery.subject, %reason, "failed on its last delivery");
            handler.gave_up(delivery, &reason).await
        }
        Settle::RetryAfter(after) if last => {
            let reason = format!("still not ready after {} deliveries", delivery.delivered);
            tracing::warn!(consumer = %config.durable, subject = %delivery.subject, ?after, "not ready on its last delivery");
            handler.gave_up(delivery, &reason).await
        }
        settle => settle,
    };
    let settled = match settle {
        Settle::Ack => delivery.ack().await,
        Settle::Retry(reason) => {
            let after = retry_backoff(delivery.delivered);
            let (consumer, delivered) = (&config.durable, delivery.delivered);
            tracing::warn!(%consumer, %reason, delivered, ?after, "failed; will retry");
            delivery.nak(Some(after)).await
        }
        Settle::RetryAfter(after) => delivery.nak(Some(after)).await,
        Settle::HandBack => delivery.nak(None).await,
    };
    if let Err(e) = settled {
        let consumer = &config.durable;
        tracing::warn!(error = %e, %consumer, "could not settle a delivery; the bus will deliver it again");
    }
}
