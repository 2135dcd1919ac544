//! The in-process bus: the JetStream contract of [`super`] in memory, for
//! `tessera transcode`, `tessera dev` and unit tests. One mutex guards all
//! state (no await is held under it); waiting fetchers are woken by a
//! [`Notify`] on every publish, ack and nak, and by their own timers for
//! ack-wait expiries and nak delays. Time is tokio's, so tests may pause it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{
    subject, Acker, Bus, BusError, Consumer, ConsumerConfig, DeadLetter, Delivery, OutgoingMessage, PublishAck,
    QueueDepth, Retention, StoredMessage, StreamConfig,
};

/// The in-process bus. Cloning shares it.
#[derive(Clone, Default)]
pub struct MemoryBus {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Default)]
struct State {
    streams: Vec<Stream>,
}

struct Stream {
    config: StreamConfig,
    messages: BTreeMap<u64, OutgoingMessage>,
    last_seq: u64,
    /// Message id -> (stream seq, publish time).
    recent_ids: HashMap<String, (u64, Instant)>,
    consumers: HashMap<String, ConsumerState>,
}

struct ConsumerState {
    config: ConsumerConfig,
    /// Next stream sequence never delivered to this consumer.
    cursor: u64,
    /// Delivered, not acked: seq -> (ack deadline, deliveries so far).
    pending: BTreeMap<u64, (Instant, u32)>,
    /// To deliver again: seq -> (not before, deliveries so far).
    redeliver: BTreeMap<u64, (Instant, u32)>,
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.inner)
    }
}

fn lock(inner: &Inner) -> MutexGuard<'_, State> {
    // A panic while holding the lock leaves consistent state (every update is
    // a single map operation), so a poisoned lock is still usable.
    inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    fn stream_mut(&mut self, name: &str) -> Result<&mut Stream, BusError> {
        self.streams.iter_mut().find(|s| s.config.name == name).ok_or_else(|| BusError::UnknownStream(name.into()))
    }

    fn publish(&mut self, message: OutgoingMessage, now: Instant) -> Result<PublishAck, BusError> {
        let stream = self
            .streams
            .iter_mut()
            .find(|s| s.config.subjects.iter().any(|p| subject::matches(p, &message.subject)))
            .ok_or_else(|| BusError::NoStream(message.subject.clone()))?;
        let window = stream.config.duplicate_window;
        stream.recent_ids.retain(|_, (_, at)| now.duration_since(*at) < window);
        if let Some(id) = &message.id {
            if let Some(&(seq, _)) = stream.recent_ids.get(id) {
                return Ok(PublishAck { stream_seq: seq, duplicate: true });
            }
        }
        stream.last_seq += 1;
        let seq = stream.last_seq;
        if let Some(id) = &message.id {
            stream.recent_ids.insert(id.clone(), (seq, now));
        }
        stream.messages.insert(seq, message);
        Ok(PublishAck { stream_seq: seq, duplicate: false })
    }

    /// Moves expired deliveries back to the redelivery queue, dead-lettering
    /// those out of deliveries; returns when the next expiry is due.
    fn sweep(&mut self, now: Instant) -> Option<Instant> {
        let mut dead = Vec::new();
        let mut next: Option<Instant> = None;
        for stream in &mut self.streams {
            for (name, consumer) in &mut stream.consumers {
                let expired: Vec<(u64, u32)> =
                    consumer.pending.iter().filter(|(_, (due, _))| *due <= now).map(|(&s, &(_, n))| (s, n)).collect();
                for (seq, delivered) in expired {
                    consumer.pending.remove(&seq);
                    if delivered >= consumer.config.max_deliver {
                        dead.push((stream.config.name.clone(), name.clone(), seq, delivered));
                    } else {
                        consumer.redeliver.insert(seq, (now, delivered));
                    }
                }
                for &(due, _) in consumer.pending.values().chain(consumer.redeliver.values()) {
                    if due > now {
                        next = Some(next.map_or(due, |n| n.min(due)));
                    }
                }
            }
        }
        for (stream, consumer, seq, delivered) in dead {
            self.dead_letter(&stream, &consumer, seq, delivered, now);
        }
        next
    }

    /// Drops a message that ran out of deliveries and reports it.
    fn dead_letter(&mut self, stream_name: &str, consumer_name: &str, seq: u64, deliveries: u32, now: Instant) {
        let Ok(stream) = self.stream_mut(stream_name) else { return };
        let Some(consumer) = stream.consumers.get_mut(consumer_name) else { return };
        consumer.pending.remove(&seq);
        consumer.redeliver.remove(&seq);
        let target = consumer.config.dead_letter_subject.clone();
        let message = match stream.config.retention {
            Retention::WorkQueue => stream.messages.remove(&seq),
            Retention::Limits => stream.messages.get(&seq).cloned(),
        };
        let (Some(target), Some(message)) = (target, message) else { return };
        let record = DeadLetter::new(stream_name, consumer_name, seq, message, deliveries);
        let id = Some(format!("deadletter/{stream_name}/{consumer_name}/{seq}"));
        // A dead-letter subject no stream captures loses the record, as on JetStream.
        let _ = self.publish(OutgoingMessage::json(target, id, &record), now);
    }
}

#[async_trait]
impl Bus for MemoryBus {
    async fn ensure_stream(&self, config: &StreamConfig) -> Result<(), BusError> {
        if config.subjects.is_empty() {
            return Err(BusError::Config(format!("stream '{}' captures no subject", config.name)));
        }
        let mut state = self.lock();
        for other in state.streams.iter().filter(|s| s.config.name != config.name) {
            for a in &other.config.subjects {
                if config.subjects.iter().any(|b| subject::overlap(a, b)) {
                    return Err(BusError::Config(format!(
                        "subjects of stream '{}' overlap stream '{}' ({a})",
                        config.name, other.config.name
                    )));
                }
            }
        }
        match state.stream_mut(&config.name) {
            Ok(stream) => stream.config = config.clone(),
            Err(_) => state.streams.push(Stream {
                config: config.clone(),
                messages: BTreeMap::new(),
                last_seq: 0,
                recent_ids: HashMap::new(),
                consumers: HashMap::new(),
            }),
        }
        Ok(())
    }

    async fn consumer(&self, stream_name: &str, config: &ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        if config.max_deliver == 0 || config.max_ack_pending == 0 || config.ack_wait.is_zero() {
            return Err(BusError::Config(format!(
                "consumer '{}': max_deliver, max_ack_pending and ack_wait must be positive",
                config.durable
            )));
        }
        let mut state = self.lock();
        let stream = state.stream_mut(stream_name)?;
        if stream.config.retention == Retention::WorkQueue {
            if let Some((name, _)) = stream.consumers.iter().find(|(name, c)| {
                **name != config.durable && subject::overlap(&c.config.filter_subject, &config.filter_subject)
            }) {
                return Err(BusError::Config(format!(
                    "work-queue stream '{stream_name}': consumer '{}' overlaps consumer '{name}'",
                    config.durable
                )));
            }
        }
        let first = stream.messages.keys().next().copied().unwrap_or(stream.last_seq + 1);
        stream.consumers.entry(config.durable.clone()).and_modify(|c| c.config = config.clone()).or_insert_with(|| {
            ConsumerState {
                config: config.clone(),
                cursor: first,
                pending: BTreeMap::new(),
                redeliver: BTreeMap::new(),
            }
        });
        Ok(Box::new(MemoryConsumer {
            inner: self.inner.clone(),
            stream: stream_name.to_string(),
            durable: config.durable.clone(),
        }))
    }

    async fn publish(&self, message: OutgoingMessage) -> Result<PublishAck, BusError> {
        let ack = self.lock().publish(message, Instant::now())?;
        self.inner.changed.notify_waiters();
        Ok(ack)
    }

    async fn depth(&self, stream: &str, durable: &str) -> Result<Option<QueueDepth>, BusError> {
        let mut state = self.lock();
        let stream = state.stream_mut(stream)?;
        let Some(consumer) = stream.consumers.get(durable) else { return Ok(None) };
        let fresh = stream
            .messages
            .range(consumer.cursor..)
            .filter(|(_, m)| subject::matches(&consumer.config.filter_subject, &m.subject))
            .count();
        Ok(Some(QueueDepth {
            waiting: (fresh + consumer.redeliver.len()) as u64,
            in_flight: consumer.pending.len() as u64,
        }))
    }

    async fn history(&self, stream: &str, filter: &str) -> Result<Vec<StoredMessage>, BusError> {
        let mut state = self.lock();
        let stream = state.stream_mut(stream)?;
        Ok(stream
            .messages
            .iter()
            .filter(|(_, m)| subject::matches(filter, &m.subject))
            .map(|(&stream_seq, message)| StoredMessage { message: message.clone(), stream_seq })
            .collect())
    }
}

/// A durable consumer of the in-process bus.
struct MemoryConsumer {
    inner: Arc<Inner>,
    stream: String,
    durable: String,
}

impl MemoryConsumer {
    /// Takes up to `max` deliverable messages, or says when to look again.
    fn take(&self, max: usize, now: Instant) -> Result<(Vec<Delivery>, Option<Instant>), BusError> {
        let mut state = lock(&self.inner);
        let mut next = state.sweep(now);
        let stream = state.stream_mut(&self.stream)?;
        let consumer = stream.consumers.get_mut(&self.durable).ok_or_else(|| {
            BusError::Config(format!("consumer '{}' of stream '{}' was deleted", self.durable, self.stream))
        })?;
        let room = consumer.config.max_ack_pending.saturating_sub(consumer.pending.len()).min(max);
        let mut picked: Vec<(u64, u32)> = Vec::new();
        let ready: Vec<(u64, u32)> = consumer
            .redeliver
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(&s, &(_, n))| (s, n))
            .take(room)
            .collect();
        for (seq, delivered) in ready {
            consumer.redeliver.remove(&seq);
            if stream.messages.contains_key(&seq) {
                picked.push((seq, delivered + 1));
            }
        }
        let filter = consumer.config.filter_subject.clone();
        for (&seq, message) in stream.messages.range(consumer.cursor..) {
            if picked.len() >= room {
                break;
            }
            consumer.cursor = seq + 1;
            if subject::matches(&filter, &message.subject) {
                picked.push((seq, 1));
            }
        }
        if picked.len() < room {
            consumer.cursor = stream.last_seq + 1;
        }
        let mut out = Vec::with_capacity(picked.len());
        for (seq, delivered) in picked {
            let deadline = now + consumer.config.ack_wait;
            consumer.pending.insert(seq, (deadline, delivered));
            next = Some(next.map_or(deadline, |n| n.min(deadline)));
            let message = stream.messages.get(&seq).cloned().unwrap_or_else(|| OutgoingMessage {
                subject: String::new(),
                id: None,
                headers: Vec::new(),
                payload: Bytes::new(),
            });
            let acker = MemoryAcker {
                inner: self.inner.clone(),
                stream: self.stream.clone(),
                durable: self.durable.clone(),
                seq,
            };
            out.push(Delivery::new(message, seq, delivered, Box::new(acker)));
        }
        Ok((out, next))
    }
}

#[async_trait]
impl Consumer for MemoryConsumer {
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let deadline = Instant::now() + wait;
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let (got, next) = self.take(max.max(1), now)?;
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            let wake = next.map_or(deadline, |n| n.min(deadline));
            tokio::select! {
                _ = &mut changed => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    }
}

/// Acks one delivered message of the in-process bus.
struct MemoryAcker {
    inner: Arc<Inner>,
    stream: String,
    durable: String,
    seq: u64,
}

impl MemoryAcker {
    /// Runs `f` on this message's pending entry, then wakes fetchers.
    fn settle(&self, f: impl FnOnce(&mut Stream, u32, Instant) -> Option<(u32, bool)>) -> Result<(), BusError> {
        let now = Instant::now();
        let mut state = lock(&self.inner);
        state.sweep(now);
        let stream = state.stream_mut(&self.stream)?;
        let delivered =
            stream.consumers.get(&self.durable).and_then(|c| c.pending.get(&self.seq)).map(|&(_, n)| n).ok_or_else(
                || BusError::NotPending {
                    stream: self.stream.clone(),
                    consumer: self.durable.clone(),
                    stream_seq: self.seq,
                },
            )?;
        if let Some((deliveries, true)) = f(stream, delivered, now) {
            state.dead_letter(&self.stream, &self.durable, self.seq, deliveries, now);
        }
        drop(state);
        self.inner.changed.notify_waiters();
        Ok(())
    }

    fn consumer<'a>(&self, stream: &'a mut Stream) -> Option<&'a mut ConsumerState> {
        stream.consumers.get_mut(&self.durable)
    }
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(&self) -> Result<(), BusError> {
        self.settle(|stream, _, _| {
            let retention = stream.config.retention;
            if let Some(c) = self.consumer(stream) {
                c.pending.remove(&self.seq);
            }
            if retention == Retention::WorkQueue {
                stream.messages.remove(&self.seq);
            }
            None
        })
    }

    async fn nak(&self, delay: Option<Duration>) -> Result<(), BusError> {
        self.settle(|stream, delivered, now| {
            let c = self.consumer(stream)?;
            if delivered >= c.config.max_deliver {
                return Some((delivered, true));
            }
            c.pending.remove(&self.seq);
            c.redeliver.insert(self.seq, (now + delay.unwrap_or_default(), delivered));
            None
        })
    }

    async fn in_progress(&self) -> Result<(), BusError> {
        self.settle(|stream, delivered, now| {
            let c = self.consumer(stream)?;
            let deadline = now + c.config.ack_wait;
            c.pending.insert(self.seq, (deadline, delivered));
            None
        })
    }
}
