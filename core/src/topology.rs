//! The streams and consumers every service expects, created idempotently at
//! start-up by whoever comes first (each call updates to the same config).

use std::time::Duration;

use crate::backoff::{Backoff, DEFAULT_OUTAGE_WINDOW};
use crate::bus::{Bus, BusError, ConsumerConfig, Retention, StreamConfig};
use crate::wire::{
    dead_letter_subject, task_consumer, task_subject, TaskCodec, TaskPriority, WorkerClass, EVENTS_STREAM,
    EVENTS_SUBJECTS, JOBS_STREAM, JOB_EVENTS_SUBJECTS, JOB_SUBMISSIONS_SUBJECT, PACKAGER_CONSUMER,
    SUBMISSIONS_CONSUMER, TASKS_STREAM, TASKS_SUBJECTS, TRACKER_CONSUMER,
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

/// How long job events are kept (the packager replays a job's events from
/// the stream after a restart, so this bounds how long a job may run).
pub const EVENTS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Creates (or updates) the job-submission, task and event streams, waiting
/// out a bus that does not answer (a cluster that is starting, loaded or
/// electing leaders) for [`DEFAULT_OUTAGE_WINDOW`]; a refused configuration
/// is returned at once.
pub async fn ensure_streams(bus: &dyn Bus) -> Result<(), BusError> {
    let streams = [
        (JOBS_STREAM, JOB_SUBMISSIONS_SUBJECT, Retention::WorkQueue, None),
        (TASKS_STREAM, TASKS_SUBJECTS, Retention::WorkQueue, None),
        (EVENTS_STREAM, EVENTS_SUBJECTS, Retention::Limits, Some(EVENTS_MAX_AGE)),
    ];
    for (name, subjects, retention, max_age) in streams {
        let config = StreamConfig {
            name: name.into(),
            subjects: vec![subjects.into()],
            retention,
            duplicate_window: DUPLICATE_WINDOW,
            max_age,
        };
        let mut backoff = Backoff::new(DEFAULT_OUTAGE_WINDOW);
        loop {
            match bus.ensure_stream(&config).await {
                Err(e) if e.is_transient() && backoff.wait().await => {
                    tracing::warn!(error = %e, stream = name, "cannot create the stream yet; retrying");
                }
                ensured => break ensured?,
            }
        }
    }
    Ok(())
}

/// The coordinators' shared consumer of job submissions: the coordinator that
/// takes one segments it, keeping it alive with in-progress acks; if that
/// coordinator dies, another (or it, restarted) takes the job over.
pub fn submissions_consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        durable: SUBMISSIONS_CONSUMER.into(),
        filter_subject: JOB_SUBMISSIONS_SUBJECT.into(),
        ack_wait: Duration::from_secs(30),
        // A stopping coordinator naks what it holds, which counts: leave room for rolling restarts.
        max_deliver: 10,
        max_ack_pending: 64,
        dead_letter_subject: Some(dead_letter_subject(SUBMISSIONS_CONSUMER)),
    }
}

/// The coordinators' consumer of submissions that ran out of deliveries
/// (their jobs are failed).
pub fn submissions_dead_letter_consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        durable: format!("{SUBMISSIONS_CONSUMER}-deadletters"),
        filter_subject: dead_letter_subject(SUBMISSIONS_CONSUMER),
        ack_wait: Duration::from_secs(30),
        max_deliver: 20,
        max_ack_pending: 100,
        dead_letter_subject: None,
    }
}

/// The coordinators' shared consumer of job events, folded into job records.
pub fn tracker_consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        durable: TRACKER_CONSUMER.into(),
        filter_subject: JOB_EVENTS_SUBJECTS.into(),
        ack_wait: Duration::from_secs(30),
        max_deliver: 20,
        max_ack_pending: 10_000,
        dead_letter_subject: None,
    }
}

/// The durable consumer of one class, codec and priority's tasks.
pub fn task_consumer_config(
    class: WorkerClass,
    codec: TaskCodec,
    priority: TaskPriority,
    delivery: TaskDelivery,
) -> ConsumerConfig {
    let durable = task_consumer(class, codec, priority);
    ConsumerConfig {
        filter_subject: task_subject(class, codec, priority),
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
