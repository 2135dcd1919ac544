//! The streams and consumers every service expects, created idempotently at
//! start-up by whoever comes first (each call updates to the same config).

use std::time::Duration;

use crate::bus::{Bus, BusError, ConsumerConfig, Retention, StreamConfig};
use crate::wire::{
    dead_letter_subject, task_consumer, task_subject, TaskCodec, WorkerClass, EVENTS_STREAM, EVENTS_SUBJECTS,
    PACKAGER_CONSUMER, TASKS_STREAM, TASKS_SUBJECTS,
};

/// How long a re-published task or event id counts as a duplicate.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60 * 60);

/// Delivery settings of the task consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDelivery {
    /// A task not acked (or kept alive with in-progress acks) within this is redelivered.
    pub ack_wait: Duration,
    /// Deliveries before a task is dead-lettered and its job fails.
    pub max_deliver: u32,
    /// Tasks a consumer hands out before any is acked.
    pub max_ack_pending: usize,
}

impl Default for TaskDelivery {
    fn default() -> Self {
        Self { ack_wait: Duration::from_secs(30), max_deliver: 5, max_ack_pending: 1000 }
    }
}

/// Creates (or updates) the task and event streams.
pub async fn ensure_streams(bus: &dyn Bus) -> Result<(), BusError> {
    bus.ensure_stream(&StreamConfig {
        name: TASKS_STREAM.into(),
        subjects: vec![TASKS_SUBJECTS.into()],
        retention: Retention::WorkQueue,
        duplicate_window: DUPLICATE_WINDOW,
    })
    .await?;
    bus.ensure_stream(&StreamConfig {
        name: EVENTS_STREAM.into(),
        subjects: vec![EVENTS_SUBJECTS.into()],
        retention: Retention::Limits,
        duplicate_window: DUPLICATE_WINDOW,
    })
    .await
}

/// The durable consumer of one class and codec's tasks.
pub fn task_consumer_config(class: WorkerClass, codec: TaskCodec, delivery: TaskDelivery) -> ConsumerConfig {
    let durable = task_consumer(class, codec);
    ConsumerConfig {
        filter_subject: task_subject(class, codec),
        ack_wait: delivery.ack_wait,
        max_deliver: delivery.max_deliver,
        max_ack_pending: delivery.max_ack_pending,
        dead_letter_subject: Some(dead_letter_subject(&durable)),
        durable,
    }
}

/// The packager's consumer of every job event.
pub fn packager_consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        durable: PACKAGER_CONSUMER.into(),
        filter_subject: EVENTS_SUBJECTS.into(),
        ack_wait: Duration::from_secs(60),
        max_deliver: 10,
        max_ack_pending: 10_000,
        dead_letter_subject: None,
    }
}
