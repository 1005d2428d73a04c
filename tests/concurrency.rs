//! `concurrency = N`: up to N messages of one connection handled at once, replies in the order
//! handlers finish; never more than N; the default stays strictly in order.

use gateway::prelude::*;
use gateway::test::{start, Client};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify, Semaphore};

/// `/wait` waits for `/wait`'s `release` (on another message of the same connection);
/// `/hold` runs until the test lets it finish, recording how many ran at once.
struct Concurrent {
    released: Notify,
    gate: Arc<Semaphore>,
    started: mpsc::UnboundedSender<()>,
    running: AtomicUsize,
    /// The most `hold` calls seen running at once (shared with the test).
    most: Arc<AtomicUsize>,
}

#[controller("")]
impl Concurrent {
    #[websocket("wait", concurrency = 2)]
    async fn wait(&self, #[body] message: String) -> String {
        if message == "release" {
            self.released.notify_one();
            "released".to_owned()
        } else {
            self.released.notified().await;
            "waited".to_owned()
        }
    }

    #[websocket("hold", concurrency = 2)]
    async fn hold(&self, #[body] n: String) -> String {
        let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(running, Ordering::SeqCst);
        self.started.send(()).ok();
        self.gate
            .acquire()
            .await
            .expect("the gate stays open")
            .forget();
        self.running.fetch_sub(1, Ordering::SeqCst);
        n
    }
}

/// The app, the gate that lets `hold` calls finish, their start signals, and the most that
/// ran at once.
fn app() -> (
    App,
    Arc<Semaphore>,
    mpsc::UnboundedReceiver<()>,
    Arc<AtomicUsize>,
) {
    let gate = Arc::new(Semaphore::new(0));
    let (started, starts) = mpsc::unbounded_channel();
    let most = Arc::new(AtomicUsize::new(0));
    let controller = Concurrent {
        released: Notify::new(),
        gate: Arc::clone(&gate),
        started,
        running: AtomicUsize::new(0),
        most: Arc::clone(&most),
    };
    (App::new().controller(controller), gate, starts, most)
}

#[tokio::test]
async fn a_later_message_can_finish_first() {
    let (app, ..) = app();
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/wait").await;
    client.send_text("wait").await;
    client.send_text("release").await;
    // In order, `wait` would block `release` forever.
    assert_eq!(client.recv_text().await, "released");
    assert_eq!(client.recv_text().await, "waited");
}

#[tokio::test]
async fn never_more_than_n_run_at_once_and_every_message_is_answered() {
    let (app, gate, mut starts, most) = app();
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/hold").await;
    for n in 0..6 {
        client.send_text(&n.to_string()).await;
    }
    // Two start; the others wait for a free slot until the test lets one finish at a time.
    let mut replies = Vec::new();
    for _ in 0..2 {
        starts.recv().await.expect("a handler started");
    }
    for _ in 0..6 {
        gate.add_permits(1);
        replies.push(client.recv_text().await);
    }
    replies.sort();
    assert_eq!(replies, ["0", "1", "2", "3", "4", "5"]);
    assert_eq!(most.load(Ordering::SeqCst), 2);
}

/// The gateway style: events of one connection run concurrently too.
#[derive(Default)]
struct Events {
    released: Notify,
}

#[gateway("events", concurrency = 2)]
impl Events {
    #[subscribe("wait")]
    async fn wait(&self) -> Ack<&'static str> {
        self.released.notified().await;
        Ack("waited")
    }

    #[subscribe("release")]
    async fn release(&self) -> Ack<&'static str> {
        self.released.notify_one();
        Ack("released")
    }
}

#[tokio::test]
async fn gateway_events_run_concurrently_and_acks_find_their_requests() {
    let addr = start(App::new().gateway(Events::default())).await;
    let mut client = Client::connect(addr, "/events").await;
    client
        .send_json(&serde_json::json!({"event": "wait", "id": 1}))
        .await;
    client
        .send_json(&serde_json::json!({"event": "release", "id": 2}))
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        serde_json::json!({"ack": 2, "data": "released"})
    );
    assert_eq!(
        client.recv_json::<Value>().await,
        serde_json::json!({"ack": 1, "data": "waited"})
    );
}
