//! The consumer loop's contract ([`tessera_core::bus::serve`]): its settle
//! rules, in-progress acks, hand-back on shutdown, priority polling and
//! concurrency, run on every bus implementation like the
//! [`bus_contract`](crate::bus_contract) suite. Instantiate it with
//! [`serve_contract_tests!`](crate::serve_contract_tests).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::bus::{
    serve, Bus, ConsumerConfig, DeadLetter, Delivery, Handler, OutgoingMessage, QueueDepth, Retention, Serve, Settle,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::bus_contract::{stream, ACK_WAIT};

/// A handler whose behaviour each message's body names:
/// `ack`; `retry` (fails on its first delivery); `later` (not ready on its
/// first delivery: 200 ms); `fail` (always fails); `keep` (always fails, and
/// its handler acks it when it gives up); `slow` (takes 2.5 ack waits);
/// `hold` (until abandoned, then handed back; acked when delivered again);
/// `together` (waits until 3 of them run at once).
struct Scripted {
    /// Every handling: body, delivery count, when.
    log: Mutex<Vec<(String, u32, Instant)>>,
    /// Bodies whose last delivery failed.
    gave_up: Mutex<Vec<String>>,
    together: tokio::sync::Barrier,
    /// Fired when a `hold` starts.
    holding: CancellationToken,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            log: Mutex::default(),
            gave_up: Mutex::default(),
            together: tokio::sync::Barrier::new(3),
            holding: CancellationToken::new(),
        })
    }

    /// How often each body was handled.
    fn deliveries(&self) -> BTreeMap<String, u32> {
        let mut counts = BTreeMap::new();
        for (body, _, _) in self.log.lock().unwrap().iter() {
            *counts.entry(body.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// When each handling of `body` began.
    fn times(&self, body: &str) -> Vec<Instant> {
        self.log.lock().unwrap().iter().filter(|(b, _, _)| b == body).map(|(_, _, t)| *t).collect()
    }

    fn order(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().map(|(b, _, _)| b.clone()).collect()
    }
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, delivery: &Delivery, abandon: &CancellationToken) -> Settle {
        let body = String::from_utf8_lossy(&delivery.payload).into_owned();
        self.log.lock().unwrap().push((body.clone(), delivery.delivered, Instant::now()));
        let first = delivery.delivered == 1;
        match body.split(':').next().unwrap_or_default() {
            "retry" if first => Settle::Retry("first try fails".into()),
            "later" if first => Settle::RetryAfter(Duration::from_millis(200)),
            "fail" | "keep" => Settle::Retry("always fails".into()),
            "slow" => {
                tokio::time::sleep(ACK_WAIT * 5 / 2).await;
                Settle::Ack
            }
            "hold" if first => {
                self.holding.cancel();
                abandon.cancelled().await;
                Settle::HandBack
            }
            "together" => {
                self.together.wait().await;
                Settle::Ack
            }
            _ => Settle::Ack,
        }
    }

    async fn gave_up(&self, delivery: &Delivery, reason: &str) -> Settle {
        let body = String::from_utf8_lossy(&delivery.payload).into_owned();
        self.gave_up.lock().unwrap().push(body.clone());
        if body == "keep" {
            Settle::Ack
        } else {
            Settle::Retry(reason.to_string())
        }
    }
}

fn config(ns: &str, name: &str, durable: &str, max_deliver: u32) -> ConsumerConfig {
    ConsumerConfig {
        durable: durable.into(),
        filter_subject: format!("{ns}.{name}.{durable}"),
        ack_wait: ACK_WAIT,
        max_deliver,
        max_ack_pending: 100,
        dead_letter_subject: Some(format!("{ns}.dead.{durable}")),
    }
}

async fn publish(bus: &dyn Bus, subject: &str, bodies: &[&str]) {
    for body in bodies {
        let message = OutgoingMessage {
            subject: subject.into(),
            id: None,
            headers: Vec::new(),
            payload: body.to_string().into(),
        };
        bus.publish(message).await.expect("published");
    }
}

/// Waits (at most `within`) for `done` to hold.
async fn until(within: Duration, what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Serves in the background until the returned token is cancelled.
fn start(
    bus: Arc<dyn Bus>,
    stream: String,
    configs: Vec<ConsumerConfig>,
    options: Serve,
    handler: Arc<Scripted>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        serve(bus.as_ref(), &stream, &configs, options, &stop, handler).await.expect("the bus takes the consumers")
    });
    (shutdown, task)
}

/// Ack is final; a failure is delivered again after the back-off (a second
/// on its first delivery); not-ready after its own short delay.
pub async fn serve_settles_by_what_the_handler_says(bus: Arc<dyn Bus>, ns: &str) {
    let s = stream(bus.as_ref(), ns, "settle", Retention::WorkQueue).await;
    let c = config(ns, "settle", "w", 5);
    publish(bus.as_ref(), &c.filter_subject, &["ack", "retry", "later"]).await;
    let handler = Scripted::new();
    let (shutdown, task) = start(bus.clone(), s.clone(), vec![c], Serve::in_order(16), handler.clone());
    until(ACK_WAIT * 8, "every message settled", || handler.deliveries().values().sum::<u32>() == 5).await;
    let expected: BTreeMap<String, u32> = [("ack", 1), ("later", 2), ("retry", 2)].map(|(b, n)| (b.into(), n)).into();
    assert_eq!(handler.deliveries(), expected);
    let gap = |body| {
        let t = handler.times(body);
        t[1] - t[0]
    };
    assert!(gap("retry") >= Duration::from_millis(900), "retried after {:?}, not the 1 s back-off", gap("retry"));
    assert!(gap("later") < Duration::from_millis(900), "not-ready came back after {:?}", gap("later"));
    // Nothing more comes.
    tokio::time::sleep(ACK_WAIT * 2).await;
    assert_eq!(handler.deliveries().values().sum::<u32>(), 5);
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(bus.depth(&s, "w").await.unwrap(), Some(QueueDepth::default()));
}

/// On its last delivery a failure goes to the handler's `gave_up`: acked when
/// it says so, else dead-lettered by the bus.
pub async fn serve_gives_up_on_the_last_delivery(bus: Arc<dyn Bus>, ns: &str) {
    let s = stream(bus.as_ref(), ns, "giveup", Retention::WorkQueue).await;
    let dead = stream(bus.as_ref(), ns, "dead", Retention::Limits).await;
    let c = config(ns, "giveup", "g", 2);
    publish(bus.as_ref(), &c.filter_subject, &["keep", "fail"]).await;
    let handler = Scripted::new();
    let (shutdown, task) = start(bus.clone(), s.clone(), vec![c], Serve::in_order(16), handler.clone());
    until(ACK_WAIT * 10, "both given up", || handler.gave_up.lock().unwrap().len() == 2).await;
    let letters = ConsumerConfig { filter_subject: format!("{ns}.dead.>"), ..config(ns, "dead", "d", 5) };
    let letters = bus.consumer(&dead, &ConsumerConfig { dead_letter_subject: None, ..letters }).await.unwrap();
    let mut bodies = Vec::new();
    let deadline = Instant::now() + ACK_WAIT * 5;
    while bodies.is_empty() && Instant::now() < deadline {
        for d in letters.fetch(10, ACK_WAIT / 2).await.unwrap() {
            let letter: DeadLetter = serde_json::from_slice(&d.payload).unwrap();
            bodies.push(letter.payload.get().to_string());
            d.ack().await.unwrap();
        }
    }
    // `fail` is not JSON: the letter keeps it as a JSON string.
    assert_eq!(bodies, [r#""fail""#], "only the one its handler did not keep");
    assert_eq!(handler.deliveries().get("keep"), Some(&2));
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(bus.depth(&s, "g").await.unwrap(), Some(QueueDepth::default()));
}

/// A handler running for longer than the ack wait keeps its delivery (the
/// loop's in-progress acks); on shutdown a held delivery is handed back at
/// once and the next server gets it.
pub async fn serve_keeps_long_work_and_hands_it_back_on_shutdown(bus: Arc<dyn Bus>, ns: &str) {
    let s = stream(bus.as_ref(), ns, "long", Retention::WorkQueue).await;
    let c = config(ns, "long", "l", 5);
    publish(bus.as_ref(), &c.filter_subject, &["slow"]).await;
    let handler = Scripted::new();
    let (shutdown, task) =
        start(bus.clone(), s.clone(), vec![c.clone()], Serve::concurrent(2, Duration::ZERO), handler.clone());
    until(ACK_WAIT * 6, "the slow one done", || handler.deliveries().contains_key("slow")).await;
    tokio::time::sleep(ACK_WAIT * 3).await;
    assert_eq!(handler.deliveries().get("slow"), Some(&1), "redelivered while it ran");

    publish(bus.as_ref(), &c.filter_subject, &["hold"]).await;
    let holding = handler.holding.clone();
    tokio::time::timeout(ACK_WAIT * 4, holding.cancelled()).await.expect("the hold started");
    shutdown.cancel();
    tokio::time::timeout(ACK_WAIT * 2, task).await.expect("stopped at once").unwrap();
    let stopped = Instant::now();
    let next = Scripted::new();
    let (shutdown, task) = start(bus.clone(), s.clone(), vec![c], Serve::in_order(1), next.clone());
    until(ACK_WAIT * 3, "the held one handed back", || next.deliveries().contains_key("hold")).await;
    assert!(stopped.elapsed() < ACK_WAIT, "came back after {:?}: not handed back", stopped.elapsed());
    assert_eq!(next.log.lock().unwrap()[0].1, 2, "its second delivery");
    shutdown.cancel();
    task.await.unwrap();
}

/// Several consumers are polled in order (the first with work wins) and a
/// concurrent server runs that many handlers at once.
pub async fn serve_polls_in_order_and_runs_concurrently(bus: Arc<dyn Bus>, ns: &str) {
    let s = stream(bus.as_ref(), ns, "prio", Retention::WorkQueue).await;
    let (high, low) = (config(ns, "prio", "high", 5), config(ns, "prio", "low", 5));
    publish(bus.as_ref(), &low.filter_subject, &["low:1", "low:2"]).await;
    publish(bus.as_ref(), &high.filter_subject, &["high:1", "high:2"]).await;
    let handler = Scripted::new();
    let configs = vec![high.clone(), low.clone()];
    let (shutdown, task) = start(bus.clone(), s.clone(), configs, Serve::in_order(1), handler.clone());
    until(ACK_WAIT * 4, "all four", || handler.log.lock().unwrap().len() == 4).await;
    assert_eq!(handler.order(), ["high:1", "high:2", "low:1", "low:2"]);
    shutdown.cancel();
    task.await.unwrap();

    publish(bus.as_ref(), &low.filter_subject, &["together", "together", "together"]).await;
    let handler = Scripted::new();
    let (shutdown, task) =
        start(bus.clone(), s.clone(), vec![high, low], Serve::concurrent(3, Duration::ZERO), handler.clone());
    // Each waits for the other two: done only if all three run at once.
    until(ACK_WAIT * 4, "three at once", || handler.log.lock().unwrap().len() == 3).await;
    tokio::time::sleep(ACK_WAIT / 2).await;
    shutdown.cancel();
    task.await.unwrap();
    assert_eq!(bus.depth(&s, "low").await.unwrap(), Some(QueueDepth::default()), "all three acked");
}

/// Instantiates the consumer-loop contract: `$make` is an async expression
/// giving `(Arc<dyn Bus>, guard)`.
#[macro_export]
macro_rules! serve_contract_tests {
    ($make:expr) => {
        $crate::serve_contract_tests!(@case $make, serve_settles_by_what_the_handler_says,
            serve_gives_up_on_the_last_delivery, serve_keeps_long_work_and_hands_it_back_on_shutdown,
            serve_polls_in_order_and_runs_concurrently);
    };
    (@case $make:expr, $($case:ident),+) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (bus, _guard) = $make.await;
                let ns = format!("s{}", std::process::id());
                $crate::serve_contract::$case(bus, &ns).await;
            }
        )+
    };
}
