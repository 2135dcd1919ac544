//! The bus contract suite: what Tessera's services rely on from a bus, run
//! against every implementation (the in-process bus, JetStream). Each case
//! takes a bus and a namespace token that keeps its streams and subjects
//! apart from other cases on the same server. Instantiate the suite with
//! [`bus_contract_tests!`](crate::bus_contract_tests).

use std::time::Duration;

use bytes::Bytes;
use tessera_core::bus::{
    Bus, Consumer, ConsumerConfig, DeadLetter, OutgoingMessage, QueueDepth, Retention, StreamConfig,
};

/// Ack-wait used by the cases: long enough for a loaded CI machine to fetch
/// and settle, short enough to keep the suite quick.
pub const ACK_WAIT: Duration = Duration::from_millis(1000);

/// Creates the stream `{ns}_{name}` capturing `{ns}.{name}.>`; returns its name.
pub(crate) async fn stream(bus: &dyn Bus, ns: &str, name: &str, retention: Retention) -> String {
    let stream = format!("{ns}_{name}");
    bus.ensure_stream(&StreamConfig {
        name: stream.clone(),
        subjects: vec![format!("{ns}.{name}.>")],
        retention,
        duplicate_window: Duration::from_secs(60),
        max_age: None,
    })
    .await
    .expect("stream created");
    stream
}

async fn consumer(bus: &dyn Bus, stream: &str, durable: &str, filter: String, max_deliver: u32) -> Box<dyn Consumer> {
    bus.consumer(
        stream,
        &ConsumerConfig {
            durable: durable.into(),
            filter_subject: filter,
            ack_wait: ACK_WAIT,
            max_deliver,
            max_ack_pending: 100,
            dead_letter_subject: None,
        },
    )
    .await
    .expect("consumer created")
}

fn message(subject: String, id: Option<&str>, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        subject,
        id: id.map(str::to_string),
        headers: vec![("traceparent".into(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into())],
        payload: Bytes::from(body.to_string()),
    }
}

async fn fetch_bodies(consumer: &dyn Consumer, wait: Duration) -> Vec<(String, u32)> {
    let got = consumer.fetch(10, wait).await.expect("fetch");
    let mut out = Vec::new();
    for d in got {
        out.push((String::from_utf8_lossy(&d.payload).into_owned(), d.delivered));
        d.ack().await.expect("ack");
    }
    out
}

/// History returns a limits stream's messages on matching subjects, oldest
/// first, with ids and headers, whether or not a consumer has acked them.
pub async fn history_replays_matching(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "history", Retention::Limits).await;
    assert!(bus.history(&s, &format!("{ns}.history.job.a")).await.unwrap().is_empty());
    bus.publish(message(format!("{ns}.history.job.a"), Some("a1"), "a1")).await.unwrap();
    bus.publish(message(format!("{ns}.history.job.b"), None, "b1")).await.unwrap();
    bus.publish(message(format!("{ns}.history.job.a"), None, "a2")).await.unwrap();
    let c = consumer(bus, &s, "history", format!("{ns}.history.>"), 3).await;
    assert_eq!(fetch_bodies(&*c, Duration::from_secs(2)).await.len(), 3);
    let got = bus.history(&s, &format!("{ns}.history.job.a")).await.unwrap();
    let bodies: Vec<_> = got.iter().map(|m| String::from_utf8_lossy(&m.message.payload).into_owned()).collect();
    assert_eq!(bodies, ["a1", "a2"]);
    assert!(got[0].stream_seq < got[1].stream_seq);
    assert_eq!(got[0].message.id.as_deref(), Some("a1"));
    assert_eq!(got[0].message.headers[0].0.to_ascii_lowercase(), "traceparent");
    assert_eq!(bus.history(&s, &format!("{ns}.history.>")).await.unwrap().len(), 3);
    assert!(matches!(bus.history("NO_SUCH_STREAM", ">").await, Err(tessera_core::bus::BusError::UnknownStream(_))));
}

/// A message id seen twice within the window is stored once; headers survive.
pub async fn dedupe_by_message_id(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "dedupe", Retention::WorkQueue).await;
    let subject = format!("{ns}.dedupe.a");
    let first = bus.publish(message(subject.clone(), Some("job/h264-360p/0"), "one")).await.unwrap();
    let again = bus.publish(message(subject.clone(), Some("job/h264-360p/0"), "one again")).await.unwrap();
    let other = bus.publish(message(subject.clone(), Some("job/h264-360p/1"), "two")).await.unwrap();
    assert!(!first.duplicate && again.duplicate && !other.duplicate);
    assert_eq!(again.stream_seq, first.stream_seq);
    let c = consumer(bus, &s, "dedupe", format!("{ns}.dedupe.>"), 3).await;
    let got = c.fetch(10, Duration::from_secs(2)).await.unwrap();
    let bodies: Vec<_> = got.iter().map(|d| String::from_utf8_lossy(&d.payload).into_owned()).collect();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(got[0].header("traceparent").map(str::len), Some(55), "headers travel with the message");
    assert_eq!(got[0].id.as_deref(), Some("job/h264-360p/0"));
    for d in got {
        d.ack().await.unwrap();
    }
}

/// An acked message is never delivered again; a work queue then holds nothing.
pub async fn ack_removes(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "ack", Retention::WorkQueue).await;
    let c = consumer(bus, &s, "ack", format!("{ns}.ack.>"), 3).await;
    bus.publish(message(format!("{ns}.ack.x"), None, "m")).await.unwrap();
    let depth = || async { bus.depth(&s, "ack").await.unwrap() };
    assert_eq!(bus.depth(&s, "no-such-consumer").await.unwrap(), None);
    assert_eq!(depth().await, Some(QueueDepth { waiting: 1, in_flight: 0 }));
    let got = c.fetch(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(depth().await, Some(QueueDepth { waiting: 0, in_flight: 1 }), "delivered, not acked");
    got[0].ack().await.unwrap();
    assert!(c.fetch(10, ACK_WAIT * 2).await.unwrap().is_empty(), "an acked message came back");
    assert_eq!(depth().await, Some(QueueDepth::default()));
}

/// A message neither acked nor nak'ed comes back after the ack-wait, counted.
pub async fn redelivery_after_ack_wait(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "redeliver", Retention::WorkQueue).await;
    let c = consumer(bus, &s, "redeliver", format!("{ns}.redeliver.>"), 5).await;
    bus.publish(message(format!("{ns}.redeliver.x"), None, "m")).await.unwrap();
    let first = c.fetch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(c.fetch(1, ACK_WAIT / 3).await.unwrap().is_empty(), "redelivered before the ack-wait");
    let again = c.fetch(1, ACK_WAIT * 3).await.unwrap();
    assert_eq!(again.len(), 1, "not redelivered after the ack-wait");
    assert_eq!((again[0].delivered, again[0].stream_seq), (2, first[0].stream_seq));
    again[0].ack().await.unwrap();
}

/// In-progress acks restart the ack-wait, so a long task is not redelivered.
pub async fn in_progress_extends_ack_wait(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "progress", Retention::WorkQueue).await;
    let c = consumer(bus, &s, "progress", format!("{ns}.progress.>"), 5).await;
    bus.publish(message(format!("{ns}.progress.x"), None, "long")).await.unwrap();
    let got = c.fetch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 1);
    // Keep it alive for two ack-waits, refreshing well inside each.
    for _ in 0..8 {
        tokio::time::sleep(ACK_WAIT / 4).await;
        got[0].in_progress().await.unwrap();
    }
    assert!(c.fetch(1, ACK_WAIT / 3).await.unwrap().is_empty(), "redelivered despite in-progress acks");
    got[0].ack().await.unwrap();
    assert!(c.fetch(1, ACK_WAIT * 2).await.unwrap().is_empty(), "redelivered after the ack");
}

/// A nak with a delay holds the message back for that long, then it returns.
pub async fn nak_with_delay(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "nak", Retention::WorkQueue).await;
    let c = consumer(bus, &s, "nak", format!("{ns}.nak.>"), 5).await;
    bus.publish(message(format!("{ns}.nak.x"), None, "m")).await.unwrap();
    let got = c.fetch(1, Duration::from_secs(2)).await.unwrap();
    let delay = Duration::from_millis(1500);
    let naked_at = tokio::time::Instant::now();
    got[0].nak(Some(delay)).await.unwrap();
    let early = c.fetch(1, Duration::from_millis(700)).await.unwrap();
    assert!(early.is_empty(), "a delayed nak came back after {:?}", naked_at.elapsed());
    let again = c.fetch(1, Duration::from_secs(5)).await.unwrap();
    assert_eq!(again.len(), 1, "a nak'ed message did not come back");
    assert!(naked_at.elapsed() >= delay - Duration::from_millis(50), "came back after {:?}", naked_at.elapsed());
    assert_eq!(again[0].delivered, 2);
    // A nak without delay comes back at once.
    again[0].nak(None).await.unwrap();
    let third = c.fetch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].delivered, 3);
    third[0].ack().await.unwrap();
}

/// After `max_deliver` deliveries the message is not delivered again and a
/// dead-letter record (original subject, id, body, deliveries) is published.
pub async fn max_deliveries_then_dead_letter(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "work", Retention::WorkQueue).await;
    let dlq = stream(bus, ns, "dead", Retention::Limits).await;
    let work = bus
        .consumer(
            &s,
            &ConsumerConfig {
                durable: "work".into(),
                filter_subject: format!("{ns}.work.>"),
                ack_wait: ACK_WAIT,
                max_deliver: 2,
                max_ack_pending: 10,
                dead_letter_subject: Some(format!("{ns}.dead.work")),
            },
        )
        .await
        .unwrap();
    let dead = consumer(bus, &dlq, "dead", format!("{ns}.dead.>"), 3).await;
    bus.publish(message(format!("{ns}.work.x"), Some("t1"), r#"{"task":1}"#)).await.unwrap();
    bus.publish(message(format!("{ns}.work.x"), Some("t2"), r#"{"task":2}"#)).await.unwrap();
    // t1: nak'ed twice; t2: left to time out twice.
    for round in 1..=2 {
        let got = work.fetch(2, Duration::from_secs(3)).await.unwrap();
        assert_eq!(got.len(), 2, "round {round}");
        for d in &got {
            assert_eq!(d.delivered, round);
            if d.id.as_deref() == Some("t1") {
                d.nak(None).await.unwrap();
            }
        }
        if round == 1 {
            tokio::time::sleep(ACK_WAIT + ACK_WAIT / 2).await;
        }
    }
    let mut letters = Vec::new();
    let deadline = tokio::time::Instant::now() + ACK_WAIT * 6;
    while letters.len() < 2 && tokio::time::Instant::now() < deadline {
        // Fetching from the work consumer lets a lazy implementation notice expiries.
        assert!(work.fetch(1, ACK_WAIT / 4).await.unwrap().is_empty(), "delivered beyond max_deliver");
        for d in dead.fetch(10, ACK_WAIT / 4).await.unwrap() {
            letters.push(serde_json::from_slice::<DeadLetter>(&d.payload).expect("dead letter JSON"));
            d.ack().await.unwrap();
        }
    }
    letters.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(letters.len(), 2, "dead letters: {letters:?}");
    assert_eq!(letters[0].id.as_deref(), Some("t1"));
    assert_eq!(letters[0].payload.get(), r#"{"task":1}"#);
    assert_eq!(letters[0].message::<serde_json::Value>().unwrap()["task"], 1);
    assert_eq!(letters[0].subject, format!("{ns}.work.x"));
    assert_eq!((letters[0].deliveries, letters[1].deliveries), (2, 2));
    assert_eq!((letters[0].consumer.as_str(), letters[0].stream.as_str()), ("work", s.as_str()));
    assert_eq!(bus.depth(&s, "work").await.unwrap(), Some(QueueDepth::default()));
}

/// No more than `max_ack_pending` messages are out at once.
pub async fn max_ack_pending_bounds_fetch(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "bounded", Retention::WorkQueue).await;
    let c = bus
        .consumer(
            &s,
            &ConsumerConfig {
                durable: "bounded".into(),
                filter_subject: format!("{ns}.bounded.>"),
                ack_wait: Duration::from_secs(30),
                max_deliver: 3,
                max_ack_pending: 2,
                dead_letter_subject: None,
            },
        )
        .await
        .unwrap();
    for i in 0..3 {
        bus.publish(message(format!("{ns}.bounded.x"), None, &i.to_string())).await.unwrap();
    }
    let got = c.fetch(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(c.fetch(10, Duration::from_millis(300)).await.unwrap().is_empty(), "max_ack_pending exceeded");
    got[0].ack().await.unwrap();
    let third = c.fetch(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0].payload, Bytes::from_static(b"2"));
    got[1].ack().await.unwrap();
    third[0].ack().await.unwrap();
}

/// Consumers see only their filter's subjects; on a limits stream each
/// durable consumer gets every message, independently of the others' acks.
pub async fn filters_and_independent_consumers(bus: &dyn Bus, ns: &str) {
    let s = stream(bus, ns, "events", Retention::Limits).await;
    let a = consumer(bus, &s, "a", format!("{ns}.events.>"), 3).await;
    let b = consumer(bus, &s, "b", format!("{ns}.events.job1"), 3).await;
    bus.publish(message(format!("{ns}.events.job1"), None, "1")).await.unwrap();
    bus.publish(message(format!("{ns}.events.job2"), None, "2")).await.unwrap();
    let mut got_a = Vec::new();
    while got_a.len() < 2 {
        let batch = fetch_bodies(a.as_ref(), Duration::from_secs(2)).await;
        assert!(!batch.is_empty(), "consumer a got {got_a:?}");
        got_a.extend(batch);
    }
    assert_eq!(got_a, [("1".to_string(), 1), ("2".to_string(), 1)]);
    assert_eq!(fetch_bodies(b.as_ref(), Duration::from_secs(2)).await, [("1".to_string(), 1)]);
    assert!(b.fetch(10, Duration::from_millis(300)).await.unwrap().is_empty());
}

/// Publishing where no stream listens is an error, not a silent drop; and
/// overlapping consumers on a work queue are refused.
pub async fn refuses_what_jetstream_refuses(bus: &dyn Bus, ns: &str) {
    assert!(bus.publish(message(format!("{ns}.nowhere.x"), None, "m")).await.is_err());
    let s = stream(bus, ns, "queue", Retention::WorkQueue).await;
    consumer(bus, &s, "all", format!("{ns}.queue.>"), 3).await;
    let overlapping = bus
        .consumer(
            &s,
            &ConsumerConfig {
                durable: "some".into(),
                filter_subject: format!("{ns}.queue.x"),
                ack_wait: ACK_WAIT,
                max_deliver: 3,
                max_ack_pending: 10,
                dead_letter_subject: None,
            },
        )
        .await;
    assert!(overlapping.is_err(), "overlapping work-queue consumers were accepted");
}

/// Generates one `#[tokio::test]` per contract case. `$make` is an async
/// expression giving `(bus, guard)` where `bus` derefs to `dyn Bus` and
/// `guard` lives for the test (e.g. a server process).
#[macro_export]
macro_rules! bus_contract_tests {
    ($make:expr) => {
        $crate::bus_contract_tests!(@case $make, dedupe_by_message_id, ack_removes, redelivery_after_ack_wait,
            in_progress_extends_ack_wait, nak_with_delay, max_deliveries_then_dead_letter,
            max_ack_pending_bounds_fetch, filters_and_independent_consumers, refuses_what_jetstream_refuses,
            history_replays_matching);
    };
    (@case $make:expr, $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (bus, _guard) = $make.await;
                let ns = format!("c{}", std::process::id());
                $crate::bus_contract::$case(&*bus, &ns).await;
            }
        )+
    };
}
