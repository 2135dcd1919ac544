//! The names things travel and are kept under: streams, subjects, durable
//! consumers, key-value buckets and store keys.

use super::{TaskCodec, TaskPriority, WorkerClass};

/// Stream of tasks (work-queue retention: a task is gone once acked).
pub const TASKS_STREAM: &str = "TESSERA_TASKS";
/// Subjects of [`TASKS_STREAM`].
pub const TASKS_SUBJECTS: &str = "tessera.tasks.>";
/// Stream of job events (limits retention: the packager can replay a job).
pub const EVENTS_STREAM: &str = "TESSERA_EVENTS";
/// Subjects of [`EVENTS_STREAM`].
pub const EVENTS_SUBJECTS: &str = "tessera.events.>";
/// Durable consumer of the packager on [`EVENTS_STREAM`].
pub const PACKAGER_CONSUMER: &str = "packager";
/// Header carrying the W3C trace context of the job a message belongs to.
pub const TRACEPARENT: &str = "traceparent";
/// Work-queue stream of submitted jobs waiting for a coordinator to segment them.
pub const JOBS_STREAM: &str = "TESSERA_JOBS";
/// Subject of VOD job submissions (the only subject of [`JOBS_STREAM`]).
pub const JOB_SUBMISSIONS_SUBJECT: &str = "tessera.jobs.vod";
/// Durable consumer the coordinators share on [`JOBS_STREAM`] (its name is
/// older than the constant's, and kept: deployed streams have it, and a work
/// queue takes no second consumer of the same subject).
pub const SUBMISSIONS_CONSUMER: &str = "coordinator-ingest";
/// Durable consumer the coordinators share on [`EVENTS_STREAM`] to keep job state.
pub const TRACKER_CONSUMER: &str = "coordinator-tracker";
/// Key-value bucket of job records (see `jobs`).
pub const JOBS_BUCKET: &str = "tessera_jobs";

/// Key-value bucket of cancelled jobs (a key per job), followed by every
/// process that runs a job's work ([`crate::cancel::Cancellations`]).
pub const CANCELLED_BUCKET: &str = "tessera_cancelled";
/// Key-value bucket of live channels.
pub const LIVE_BUCKET: &str = "tessera_live";
/// Key-value bucket from stream-key digests to channels.
pub const STREAM_KEYS_BUCKET: &str = "tessera_stream_keys";
/// Key-value bucket mapping `Idempotency-Key`s to the jobs they created.
pub const IDEMPOTENCY_BUCKET: &str = "tessera_idempotency";
/// Key-value bucket of worker statuses (see `roster`).
pub const WORKERS_BUCKET: &str = "tessera_workers";
/// Store key of an upload: `uploads/{id}`.
pub fn upload_key(id: &str) -> String {
    format!("uploads/{id}")
}

/// Subject of the tasks for one class, codec and priority:
/// `tessera.tasks.cpu.h264` and `tessera.tasks.cpu.h264.first`.
pub fn task_subject(class: WorkerClass, codec: TaskCodec, priority: TaskPriority) -> String {
    format!("tessera.tasks.{}.{}{}", class.as_str(), codec.as_str(), priority.suffix())
}

/// Durable consumer name for one class, codec and priority (work-queue
/// consumers must not overlap, so there is one per subject):
/// `worker-cpu-h264`, `worker-cpu-h264-first`.
pub fn task_consumer(class: WorkerClass, codec: TaskCodec, priority: TaskPriority) -> String {
    format!("worker-{}-{}{}", class.as_str(), codec.as_str(), priority.suffix().replace('.', "-"))
}

/// Subject of one job's events.
pub fn job_events_subject(job: &str) -> String {
    format!("tessera.events.job.{job}")
}

/// Every job's events.
pub const JOB_EVENTS_SUBJECTS: &str = "tessera.events.job.>";

/// Subject on which the bus reports tasks of `consumer` that ran out of deliveries.
pub fn dead_letter_subject(consumer: &str) -> String {
    format!("tessera.events.deadletter.{consumer}")
}

/// Every consumer's dead letters.
pub const DEAD_LETTER_SUBJECTS: &str = "tessera.events.deadletter.>";

/// Whether a subject is a [`dead_letter_subject`].
pub fn is_dead_letter_subject(subject: &str) -> bool {
    subject.starts_with("tessera.events.deadletter.")
}

/// Source segment key: `sources/{job}/{seq:06}.mp4`.
pub fn source_segment_key(job: &str, seq: u32) -> String {
    format!("sources/{job}/{seq:06}.seg")
}

/// Key of chunk `index` of a streamed live source segment.
pub fn source_chunk_key(job: &str, seq: u32, index: u32) -> String {
    format!("sources/{job}/{seq:06}.{index:04}.chunk")
}

/// Key of part `index` of a rendition segment whose key is `segment_key` (`…/000012.m4s` -> `…/000012.3.m4s`).
pub fn part_key(segment_key: &str, index: u32) -> String {
    let stem = segment_key.strip_suffix(".m4s").unwrap_or(segment_key);
    format!("{stem}.{index}.m4s")
}

/// Key of the keyframe-only fragment of a rendition segment whose key is
/// `segment_key` (`…/000012.m4s` -> `…/000012.key.m4s`).
pub fn key_frame_key(segment_key: &str) -> String {
    let stem = segment_key.strip_suffix(".m4s").unwrap_or(segment_key);
    format!("{stem}.key.m4s")
}

/// Joins an output prefix (possibly empty) and a relative key.
pub fn output_key(prefix: &str, relative: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        relative.to_string()
    } else {
        format!("{prefix}/{relative}")
    }
}
