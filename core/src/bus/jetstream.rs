//! The bus on NATS JetStream: the contract of [`super`] mapped onto streams,
//! durable pull consumers with explicit acks, `Nats-Msg-Id` deduplication,
//! naks with delay and in-progress acks. JetStream has no dead-letter queue,
//! only a max-deliveries advisory; each bound consumer with a dead-letter
//! subject runs a small forwarder that turns the advisory into the contract's
//! [`DeadLetter`] record (deduplicated by stream sequence, so several
//! forwarders are harmless) and removes the message from a work queue.

use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::{self, stream, AckKind, Context};
use async_nats::HeaderMap;
use async_trait::async_trait;
use futures::StreamExt;
use serde::Deserialize;
use tokio::task::JoinHandle;

use super::{
    Acker, Bus, BusError, Consumer, ConsumerConfig, DeadLetter, Delivery, OutgoingMessage, PublishAck, QueueDepth,
    Retention, StoredMessage, StreamConfig,
};

/// How long a "what is there now" pull request may stay open. The server
/// answers a no-wait pull that has an expiry only when the expiry passes if
/// nothing is there (measured: an empty fetch took the whole 100 ms it was
/// first given), so this is the price of every empty poll; available
/// messages come at once.
const NO_WAIT_EXPIRY: Duration = Duration::from_millis(10);

/// How long past its expiry a pull request may go unanswered before the
/// fetch gives up on it (see [`JetStreamConsumer::fetch`]).
const LOST_REQUEST_GRACE: Duration = Duration::from_secs(2);

/// Header carrying the dedupe id.
const MSG_ID: &str = "Nats-Msg-Id";

fn connection(e: impl std::fmt::Display) -> BusError {
    BusError::Connection(e.to_string())
}

/// A bus on a NATS server with JetStream enabled.
#[derive(Clone)]
pub struct JetStreamBus {
    client: async_nats::Client,
    js: Context,
    replicas: usize,
}

impl JetStreamBus {
    /// Connects to `url` (`nats://host:port`, or several comma-separated URLs
    /// of one cluster, tried in turn); the client reconnects by itself after a
    /// server restart, follows the cluster's other nodes when one goes away,
    /// and retries the first connection too.
    pub async fn connect(url: &str) -> Result<Self, BusError> {
        let servers: Vec<&str> = url.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5))
            .connect(servers)
            .await
            .map_err(connection)?;
        Ok(Self { js: jetstream::new(client.clone()), client, replicas: 1 })
    }

    /// Streams and buckets this bus creates keep `replicas` copies (1 on a
    /// single server; 3 on a 3-node JetStream cluster, so losing one node
    /// loses nothing and stops nothing). Existing ones are updated to it.
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// The replica count of the streams and buckets this bus creates.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// True while the client is connected to the server (for readiness probes).
    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// The JetStream context (for the key-value buckets).
    pub(crate) fn context(&self) -> &Context {
        &self.js
    }
}

#[async_trait]
impl Bus for JetStreamBus {
    async fn ensure_stream(&self, config: &StreamConfig) -> Result<(), BusError> {
        let retention = match config.retention {
            Retention::WorkQueue => stream::RetentionPolicy::WorkQueue,
            Retention::Limits => stream::RetentionPolicy::Limits,
        };
        self.js
            .create_or_update_stream(stream::Config {
                name: config.name.clone(),
                subjects: config.subjects.clone(),
                retention,
                storage: stream::StorageType::File,
                duplicate_window: config.duplicate_window,
                max_age: config.max_age.unwrap_or_default(),
                num_replicas: self.replicas,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                use async_nats::jetstream::context::CreateStreamErrorKind;
                match e.kind() {
                    // No answer in time (a loaded or electing cluster): try again later.
                    CreateStreamErrorKind::TimedOut
                    | CreateStreamErrorKind::JetStreamUnavailable
                    | CreateStreamErrorKind::Response => connection(format!("stream '{}': {e}", config.name)),
                    _ => BusError::Config(format!("stream '{}': {e}", config.name)),
                }
            })?;
        Ok(())
    }

    async fn depth(&self, stream_name: &str, durable: &str) -> Result<Option<QueueDepth>, BusError> {
        let stream = self.js.get_stream(stream_name).await.map_err(|e| match e.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(_) => BusError::UnknownStream(stream_name.into()),
            _ => connection(e),
        })?;
        use async_nats::jetstream::context::ConsumerInfoErrorKind;
        let info = match stream.consumer_info(durable).await {
            Ok(info) => info,
            Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound => return Ok(None),
            Err(e) => match e.kind() {
                ConsumerInfoErrorKind::JetStream(js)
                    if js.error_code() == async_nats::jetstream::ErrorCode::CONSUMER_NOT_FOUND =>
                {
                    return Ok(None)
                }
                _ => return Err(connection(e)),
            },
        };
        Ok(Some(QueueDepth { waiting: info.num_pending, in_flight: info.num_ack_pending as u64 }))
    }

    async fn consumer(&self, stream_name: &str, config: &ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        let stream = self.js.get_stream(stream_name).await.map_err(|e| match e.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(_) => BusError::UnknownStream(stream_name.into()),
            _ => connection(e),
        })?;
        let max_ack_pending = i64::try_from(config.max_ack_pending).unwrap_or(i64::MAX);
        let consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some(config.durable.clone()),
                filter_subject: config.filter_subject.clone(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: config.ack_wait,
                max_deliver: i64::from(config.max_deliver),
                max_ack_pending,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::Config(format!("consumer '{}' of stream '{stream_name}': {e}", config.durable)))?;
        let forwarder = match &config.dead_letter_subject {
            Some(target) => {
                Some(spawn_dead_letter_forwarder(self.clone(), stream_name, &config.durable, target.clone()).await?)
            }
            None => None,
        };
        Ok(Box::new(JetStreamConsumer { consumer, forwarder }))
    }

    async fn publish(&self, message: OutgoingMessage) -> Result<PublishAck, BusError> {
        let mut headers = HeaderMap::new();
        for (name, value) in &message.headers {
            headers.insert(name.as_str(), value.as_str());
        }
        if let Some(id) = &message.id {
            headers.insert(MSG_ID, id.as_str());
        }
        let subject = message.subject.clone();
        let ack = self
            .js
            .publish_with_headers(message.subject, headers, message.payload)
            .await
            .map_err(connection)?
            .await
            .map_err(|e| match e.kind() {
                PublishErrorKind::StreamNotFound => BusError::NoStream(subject),
                _ => connection(e),
            })?;
        Ok(PublishAck { stream_seq: ack.sequence, duplicate: ack.duplicate })
    }

    async fn history(&self, stream_name: &str, subject: &str) -> Result<Vec<StoredMessage>, BusError> {
        let stream = self.js.get_stream(stream_name).await.map_err(|e| match e.kind() {
            jetstream::context::GetStreamErrorKind::JetStream(_) => BusError::UnknownStream(stream_name.into()),
            _ => connection(e),
        })?;
        // An ephemeral consumer without acks reads the stream and vanishes
        // shortly after; durable consumers are untouched.
        let consumer: PullConsumer = stream
            .create_consumer(pull::Config {
                filter_subject: subject.to_string(),
                ack_policy: AckPolicy::None,
                deliver_policy: jetstream::consumer::DeliverPolicy::All,
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::Config(format!("history of '{subject}' in stream '{stream_name}': {e}")))?;
        let mut consumer = consumer;
        let mut remaining = consumer.info().await.map_err(connection)?.num_pending;
        let mut out = Vec::new();
        while remaining > 0 {
            let batch = usize::try_from(remaining.min(1000)).unwrap_or(1000);
            let mut messages = consumer
                .fetch()
                .max_messages(batch)
                .expires(Duration::from_secs(5))
                .messages()
                .await
                .map_err(connection)?;
            let mut got = 0;
            while let Some(message) = messages.next().await {
                let message = message.map_err(connection)?;
                let stream_seq = message.info().map_err(connection)?.stream_sequence;
                out.push(StoredMessage { message: outgoing(&message), stream_seq });
                got += 1;
            }
            if got == 0 {
                break;
            }
            remaining = remaining.saturating_sub(got);
        }
        Ok(out)
    }
}

/// The part of JetStream's max-deliveries advisory the forwarder needs.
#[derive(Deserialize)]
struct MaxDeliveriesAdvisory {
    stream_seq: u64,
    deliveries: u32,
}

/// Subscribes to the consumer's max-deliveries advisories and republishes
/// each message as a [`DeadLetter`] on `target`.
async fn spawn_dead_letter_forwarder(
    bus: JetStreamBus,
    stream_name: &str,
    durable: &str,
    target: String,
) -> Result<JoinHandle<()>, BusError> {
    let advisory = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{stream_name}.{durable}");
    let mut advisories = bus.client.subscribe(advisory).await.map_err(connection)?;
    let (stream_name, durable) = (stream_name.to_string(), durable.to_string());
    Ok(tokio::spawn(async move {
        while let Some(message) = advisories.next().await {
            let Ok(advisory) = serde_json::from_slice::<MaxDeliveriesAdvisory>(&message.payload) else { continue };
            // The advisory is not redelivered: retry a failing forward a few times.
            for attempt in 1..=5u32 {
                match forward(&bus, &stream_name, &durable, &target, &advisory).await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, stream = %stream_name, consumer = %durable, "could not dead-letter a message");
                        tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                    }
                }
            }
        }
    }))
}

async fn forward(
    bus: &JetStreamBus,
    stream_name: &str,
    durable: &str,
    target: &str,
    advisory: &MaxDeliveriesAdvisory,
) -> Result<(), BusError> {
    let mut stream = bus.js.get_stream(stream_name).await.map_err(connection)?;
    // Another forwarder may have taken it already: then there is nothing to do.
    let Ok(raw) = stream.get_raw_message(advisory.stream_seq).await else { return Ok(()) };
    let message = OutgoingMessage {
        subject: raw.subject.to_string(),
        id: raw.headers.get(MSG_ID).map(|v| v.to_string()),
        headers: Vec::new(),
        payload: raw.payload.clone(),
    };
    let record = DeadLetter::new(stream_name, durable, advisory.stream_seq, message, advisory.deliveries);
    let id = Some(format!("deadletter/{stream_name}/{durable}/{}", advisory.stream_seq));
    bus.publish(OutgoingMessage::json(target, id, &record)).await?;
    let work_queue = stream.info().await.map_err(connection)?.config.retention == stream::RetentionPolicy::WorkQueue;
    if work_queue {
        // Already gone if a second forwarder got here first.
        let _ = stream.delete_message(advisory.stream_seq).await;
    }
    Ok(())
}

/// A durable pull consumer on JetStream.
struct JetStreamConsumer {
    consumer: PullConsumer,
    forwarder: Option<JoinHandle<()>>,
}

impl Drop for JetStreamConsumer {
    fn drop(&mut self) {
        if let Some(forwarder) = self.forwarder.take() {
            forwarder.abort();
        }
    }
}

fn delivery(message: jetstream::Message) -> Result<Delivery, BusError> {
    let info = message.info().map_err(connection)?;
    let (stream_seq, delivered) = (info.stream_sequence, u32::try_from(info.delivered).unwrap_or(u32::MAX));
    let outgoing = outgoing(&message);
    Ok(Delivery::new(outgoing, stream_seq, delivered, Box::new(JetStreamAcker { message })))
}

/// The message's subject, dedupe id, other headers (sorted) and body.
fn outgoing(message: &async_nats::Message) -> OutgoingMessage {
    let mut id = None;
    let mut headers = Vec::new();
    if let Some(map) = &message.headers {
        for (name, values) in map.iter() {
            let name = name.to_string();
            for value in values {
                if name.eq_ignore_ascii_case(MSG_ID) {
                    id = Some(value.to_string());
                } else {
                    headers.push((name.clone(), value.to_string()));
                }
            }
        }
    }
    headers.sort();
    OutgoingMessage { subject: message.subject.to_string(), id, headers, payload: message.payload.clone() }
}

#[async_trait]
impl Consumer for JetStreamConsumer {
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let max = max.max(1);
        let mut out = Vec::new();
        // A pull request the server lost (it restarted while the request was
        // open) never gets its expiry answer; async-nats gives up on it only 5 s
        // after its expiry, and setting up a request can stall on a connection
        // being re-established. A deadline of our own bounds the whole fetch.
        let deadline = tokio::time::Instant::now() + wait.max(NO_WAIT_EXPIRY) + LOST_REQUEST_GRACE;
        // What is there now, without waiting. The request gets a short expiry
        // too: when max_ack_pending is reached the server holds a no-wait
        // request open, and it would otherwise collect redeliveries for as
        // long as the client's default expiry.
        let request = self.consumer.fetch().max_messages(max).expires(NO_WAIT_EXPIRY).messages();
        let Ok(now) = tokio::time::timeout_at(deadline, request).await else { return Ok(out) };
        let mut now = now.map_err(connection)?;
        // Stop at `max`: the stream itself only ends when the request expires,
        // which cost every fetch the whole expiry (dispatch ran at 1/50 of capacity).
        while out.len() < max {
            let Ok(Some(message)) = tokio::time::timeout_at(deadline, now.next()).await else { break };
            match message {
                Ok(m) => out.push(delivery(m)?),
                Err(e) if out.is_empty() => return Err(connection(e)),
                Err(_) => break,
            }
        }
        if out.is_empty() && wait > NO_WAIT_EXPIRY {
            // Nothing yet: wait for the first message, then return at once.
            let request = self.consumer.batch().max_messages(1).expires(wait - NO_WAIT_EXPIRY).messages();
            let Ok(first) = tokio::time::timeout_at(deadline, request).await else { return Ok(out) };
            let mut first = first.map_err(connection)?;
            while let Ok(Some(message)) = tokio::time::timeout_at(deadline, first.next()).await {
                match message {
                    Ok(m) => out.push(delivery(m)?),
                    Err(e) => {
                        tracing::debug!(error = %e, "fetch ended");
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Acks one JetStream message.
struct JetStreamAcker {
    message: jetstream::Message,
}

#[async_trait]
impl Acker for JetStreamAcker {
    async fn ack(&self) -> Result<(), BusError> {
        // Wait for the server's confirmation: an ack lost in a reconnect would redeliver the task.
        self.message.double_ack().await.map_err(connection)
    }

    async fn nak(&self, delay: Option<Duration>) -> Result<(), BusError> {
        self.message.ack_with(AckKind::Nak(delay)).await.map_err(connection)
    }

    async fn in_progress(&self) -> Result<(), BusError> {
        self.message.ack_with(AckKind::Progress).await.map_err(connection)
    }
}
