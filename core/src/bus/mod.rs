//! The message bus contract Tessera's services rely on, modelled on NATS
//! JetStream so that the JetStream bus and the in-process bus are
//! interchangeable: streams capture subjects; publishes are deduplicated by
//! message id; durable pull consumers hand out messages that must be acked,
//! nak'ed (optionally with a delay) or kept alive with in-progress acks;
//! unacked messages come back after the ack-wait; after `max_deliver`
//! deliveries a message is dead-lettered: a [`DeadLetter`] record is
//! published on the consumer's dead-letter subject.
//!
//! The contract test suite in `tessera-testkit` runs against every
//! implementation: [`MemoryBus`] in process, [`JetStreamBus`] on a real nats-server.

pub mod jetstream;
pub mod memory;
pub mod serve;
pub mod subject;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use jetstream::JetStreamBus;
pub use memory::MemoryBus;
pub use serve::{serve, Handler, Serve, Settle};

/// Bus failures.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No stream captures the subject.
    #[error("no stream captures subject '{0}'")]
    NoStream(String),
    /// The named stream does not exist.
    #[error("stream '{0}' does not exist")]
    UnknownStream(String),
    /// A stream or consumer configuration is not acceptable.
    #[error("invalid bus configuration: {0}")]
    Config(String),
    /// The message was already acked, nak'ed or dead-lettered.
    #[error("message {stream_seq} of stream '{stream}' is no longer pending for consumer '{consumer}'")]
    NotPending {
        /// Stream name.
        stream: String,
        /// Consumer name.
        consumer: String,
        /// Stream sequence.
        stream_seq: u64,
    },
    /// The connection to the bus failed (transient).
    #[error("bus connection: {0}")]
    Connection(String),
}

impl BusError {
    /// True when trying again later may succeed: the bus could not be
    /// reached, or no stream answered for the subject. On JetStream the
    /// latter is also what a stream's leader election looks like from outside
    /// (a node of the cluster lost): the streams services ensure at start do
    /// not go away, so it is waited out like an outage.
    pub fn is_transient(&self) -> bool {
        matches!(self, BusError::Connection(_) | BusError::NoStream(_))
    }
}

/// How long a stream keeps messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// A message is removed once a consumer acks it (one consumer per subject).
    WorkQueue,
    /// Messages stay (up to the stream's limits); each consumer tracks its own position.
    Limits,
}

/// A stream: which subjects it captures and how it keeps them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// Stream name.
    pub name: String,
    /// Subject patterns (`*` one token, `>` the rest).
    pub subjects: Vec<String>,
    /// Retention policy.
    pub retention: Retention,
    /// Window in which a repeated message id is a duplicate.
    pub duplicate_window: Duration,
    /// Messages older than this are removed (`None`: kept; the in-process
    /// bus, which lives as long as one run, keeps everything).
    pub max_age: Option<Duration>,
}

/// A durable pull consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Durable name.
    pub durable: String,
    /// Only messages on subjects matching this pattern.
    pub filter_subject: String,
    /// A delivered message not acked within this time is redelivered.
    pub ack_wait: Duration,
    /// Deliveries before a message is dead-lettered.
    pub max_deliver: u32,
    /// At most this many delivered-but-unacked messages at a time.
    pub max_ack_pending: usize,
    /// Where [`DeadLetter`] records go (`None`: dropped silently).
    pub dead_letter_subject: Option<String>,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Subject.
    pub subject: String,
    /// Deduplication id (`Nats-Msg-Id`).
    pub id: Option<String>,
    /// Headers (trace context and the like).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub payload: Bytes,
}

impl OutgoingMessage {
    /// A JSON message with an optional dedupe id.
    pub fn json<T: Serialize>(subject: impl Into<String>, id: Option<String>, body: &T) -> Self {
        // Serializing our own wire types cannot fail (no maps with non-string keys).
        let payload = serde_json::to_vec(body).unwrap_or_default();
        Self { subject: subject.into(), id, headers: Vec::new(), payload: Bytes::from(payload) }
    }
}

/// The stream's answer to a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishAck {
    /// Stream sequence of the stored (or earlier, for a duplicate) message.
    pub stream_seq: u64,
    /// True when the id was seen within the duplicate window: nothing was stored.
    pub duplicate: bool,
}

/// What a consumer does with a delivered message.
#[async_trait]
pub trait Acker: Send + Sync {
    /// Done: never deliver again.
    async fn ack(&self) -> Result<(), BusError>;
    /// Failed: deliver again after `delay` (at once when `None`).
    async fn nak(&self, delay: Option<Duration>) -> Result<(), BusError>;
    /// Still working: restart the ack-wait.
    async fn in_progress(&self) -> Result<(), BusError>;
}

/// A delivered message.
pub struct Delivery {
    /// Subject it was published on.
    pub subject: String,
    /// Its dedupe id, if any.
    pub id: Option<String>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub payload: Bytes,
    /// Stream sequence.
    pub stream_seq: u64,
    /// How many times it has been delivered, this one included (1 = first).
    pub delivered: u32,
    acker: Box<dyn Acker>,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.subject)
            .field("id", &self.id)
            .field("stream_seq", &self.stream_seq)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Builds a delivery (for bus implementations).
    pub fn new(message: OutgoingMessage, stream_seq: u64, delivered: u32, acker: Box<dyn Acker>) -> Self {
        Self {
            subject: message.subject,
            id: message.id,
            headers: message.headers,
            payload: message.payload,
            stream_seq,
            delivered,
            acker,
        }
    }

    /// Acks the message.
    pub async fn ack(&self) -> Result<(), BusError> {
        self.acker.ack().await
    }

    /// Naks the message: redelivered after `delay`.
    pub async fn nak(&self, delay: Option<Duration>) -> Result<(), BusError> {
        self.acker.nak(delay).await
    }

    /// Signals work in progress, restarting the ack-wait.
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.acker.in_progress().await
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A message that ran out of deliveries, as published on the consumer's
/// dead-letter subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Stream it came from.
    pub stream: String,
    /// Consumer that gave up on it.
    pub consumer: String,
    /// Stream sequence.
    pub stream_seq: u64,
    /// Original subject.
    pub subject: String,
    /// Original dedupe id.
    pub id: Option<String>,
    /// Deliveries made.
    pub deliveries: u32,
    /// The original body as it was: raw JSON for Tessera's messages (a JSON
    /// string of the lossy text for any other body).
    pub payload: Box<serde_json::value::RawValue>,
}

impl DeadLetter {
    /// The dead letter of a message `body` that `consumer` of `stream` gave up on after `deliveries`.
    pub fn new(stream: &str, consumer: &str, stream_seq: u64, message: OutgoingMessage, deliveries: u32) -> Self {
        let text = String::from_utf8_lossy(&message.payload).into_owned();
        let payload = serde_json::value::RawValue::from_string(text.clone())
            .or_else(|_| serde_json::value::to_raw_value(&text))
            // A string always serializes.
            .unwrap_or_default();
        Self {
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            stream_seq,
            subject: message.subject,
            id: message.id,
            deliveries,
            payload,
        }
    }

    /// The original message, decoded (a letter written before payloads were
    /// raw JSON holds it as a JSON string).
    pub fn message<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        // Tessera's bodies are objects: a string here is an older letter's body (or a body that was not JSON).
        match serde_json::from_str::<String>(self.payload.get()) {
            Ok(text) => serde_json::from_str(&text),
            Err(_) => serde_json::from_str(self.payload.get()),
        }
    }
}

impl PartialEq for DeadLetter {
    fn eq(&self, other: &Self) -> bool {
        (&self.stream, &self.consumer, self.stream_seq, &self.subject, &self.id, self.deliveries, self.payload.get())
            == (
                &other.stream,
                &other.consumer,
                other.stream_seq,
                &other.subject,
                &other.id,
                other.deliveries,
                other.payload.get(),
            )
    }
}

/// A message as a stream keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The message (subject, id, headers, body).
    pub message: OutgoingMessage,
    /// Stream sequence.
    pub stream_seq: u64,
}

/// A durable pull consumer.
#[async_trait]
pub trait Consumer: Send + Sync {
    /// Waits up to `wait` for messages and returns at most `max` of them
    /// (an empty list when none came).
    async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;
}

/// A consumer's queue depth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueDepth {
    /// Messages not delivered yet (or waiting to be delivered again).
    pub waiting: u64,
    /// Messages delivered and not yet acknowledged.
    pub in_flight: u64,
}

/// A message bus: JetStream or the in-process one.
#[async_trait]
pub trait Bus: Send + Sync {
    /// Creates the stream, or updates it to this configuration.
    async fn ensure_stream(&self, config: &StreamConfig) -> Result<(), BusError>;

    /// Creates (or updates) a durable consumer on `stream` and binds to it.
    async fn consumer(&self, stream: &str, config: &ConsumerConfig) -> Result<Box<dyn Consumer>, BusError>;

    /// Publishes into whichever stream captures the subject.
    async fn publish(&self, message: OutgoingMessage) -> Result<PublishAck, BusError>;

    /// Every message `stream` still holds on subjects matching `subject`,
    /// oldest first, without disturbing any consumer: how a service rebuilds
    /// what it knew about a job after a restart.
    async fn history(&self, stream: &str, subject: &str) -> Result<Vec<StoredMessage>, BusError>;

    /// How many messages wait for the durable consumer `durable` of `stream`
    /// and how many are out being worked on; `None` when it does not exist.
    /// Read-only: unlike [`Bus::consumer`] it never creates or changes it.
    async fn depth(&self, stream: &str, durable: &str) -> Result<Option<QueueDepth>, BusError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(payload: &str) -> DeadLetter {
        let message = OutgoingMessage {
            subject: "s".into(),
            id: None,
            headers: Vec::new(),
            payload: Bytes::from(payload.to_string()),
        };
        DeadLetter::new("STREAM", "consumer", 7, message, 5)
    }

    #[test]
    fn a_dead_letter_keeps_a_json_body_as_json_and_any_other_as_a_string() {
        let json = letter(r#"{"job":"j1"}"#);
        let text = serde_json::to_string(&json).unwrap();
        assert!(text.contains(r#""payload":{"job":"j1"}"#), "{text}");
        assert_eq!(json.message::<serde_json::Value>().unwrap()["job"], "j1");
        let other = letter("not json");
        assert_eq!(other.payload.get(), r#""not json""#);
        assert_eq!(serde_json::from_str::<DeadLetter>(&serde_json::to_string(&other).unwrap()).unwrap(), other);
    }

    #[test]
    fn a_dead_letter_written_before_raw_payloads_still_decodes() {
        let old = r#"{"stream":"S","consumer":"c","stream_seq":1,"subject":"s","id":null,"deliveries":5,
                      "payload":"{\"job\":\"j1\",\"seq\":3}"}"#;
        let letter: DeadLetter = serde_json::from_str(old).unwrap();
        assert_eq!(letter.message::<serde_json::Value>().unwrap()["seq"], 3);
    }
}
