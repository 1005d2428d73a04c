//! Two instances sharing a real Redis act as one hub: sends, rooms, presence and counts across
//! instances, an instance that dies, Redis restarting, and 10,000 messages with none lost.
//!
//! Needs `redis-server` (Debian: `apt-get install -y redis-server`); run with
//! `cargo test --features redis --test backplane`.

#[allow(dead_code)]
#[path = "../examples/chat/main.rs"]
mod chat;
mod common;

use common::chat_wire::{event, join, next_matching, say};
use common::commands::Commands;
use common::redis::RedisServer;
use gateway::backplane::{RedisBackplane, RedisError};
use gateway::prelude::*;
use gateway::test::{start, Client, WAIT};
use serde_json::json;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// One server instance on its own runtime, so a test can kill it without goodbyes.
struct Instance {
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

async fn connect(redis_url: &str) -> RedisBackplane {
    RedisBackplane::connect(redis_url)
        .await
        .expect("connect to the test's Redis")
}

/// The app the tests drive: `Commands`, with room for every message a test sends at once.
fn commands(backplane: RedisBackplane) -> App {
    App::new()
        .backplane(backplane)
        .outbound_queue(100_000)
        .controller(Commands)
}

impl Instance {
    /// Serves `Commands` with a Redis backplane; panics when Redis is unreachable.
    fn start(redis_url: &str) -> Self {
        let url = redis_url.to_owned();
        Self::serve(move || async move { commands(connect(&url).await) })
    }

    /// Serves the app `make` builds, on a runtime of the instance's own.
    fn serve<F, A>(make: F) -> Self
    where
        F: FnOnce() -> A + Send + 'static,
        A: std::future::Future<Output = App>,
    {
        // A runtime of its own can only be built and entered outside the test's runtime.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime for the instance");
            let addr = runtime.block_on(async { start(make().await).await });
            Instance {
                addr,
                runtime: Some(runtime),
            }
        })
        .join()
        .expect("the instance started")
    }

    async fn client(&self, path: &str) -> Client {
        Client::connect(self.addr, path).await
    }

    /// Stops the instance at once (what dropping it does): its tasks are dropped, nothing is
    /// cleaned up, as if the process had been killed.
    fn kill(self) {}
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Asks `command` until the answer is `expected` (the cluster converges through Redis, and
/// nothing tells a client when it has).
async fn until(client: &mut Client, command: &str, expected: &str) {
    until_within(client, command, expected, WAIT).await;
}

/// As [`until`], failing after `bound`; returns how long it took.
async fn until_within(
    client: &mut Client,
    command: &str,
    expected: &str,
    bound: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let answer = client.ask(command).await;
        if answer == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < bound,
            "`{command}` still answers `{answer}`, not `{expected}`, after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Reads until `text` arrives.
async fn skip_until(client: &mut Client, text: &str) {
    while client.recv_text().await != text {}
}

/// Asserts that nothing is waiting for `client`: a command's answer is the next message.
async fn nothing_pending(client: &mut Client) {
    let id = client.ask("id").await;
    assert!(id.parse::<u64>().is_ok(), "unexpected message `{id}`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_act_as_one_hub() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::start(&redis.url()), Instance::start(&redis.url()));
    let mut a1 = a.client("/hub/a").await;
    let mut a2 = a.client("/hub/a").await;
    let mut b1 = b.client("/hub/b").await;
    let mut b2 = b.client("/hub/b").await;
    until(&mut a1, "count", "4").await;
    until(&mut b1, "count", "4").await;

    // Ids are unique across instances.
    let mut ids = vec![
        a1.ask("id").await,
        a2.ask("id").await,
        b1.ask("id").await,
        b2.ask("id").await,
    ];
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "{ids:?}");

    // Broadcast: every client of both instances, exactly once.
    a1.send_text("all:hello").await;
    assert_eq!(a1.recv_text().await, "hello");
    assert_eq!(
        a1.recv_text().await,
        "sent to 2",
        "the count is this instance's"
    );
    for client in [&mut a2, &mut b1, &mut b2] {
        assert_eq!(client.recv_text().await, "hello");
        nothing_pending(client).await;
    }

    // Rooms and their members span instances.
    assert_eq!(a1.ask("join:lobby").await, "joined");
    assert_eq!(b1.ask("join:lobby").await, "joined");
    let mut lobby = [a1.ask("id").await, b1.ask("id").await];
    lobby.sort();
    until(&mut b2, "members:lobby", &lobby.join(",")).await;
    until(&mut a2, "members:lobby", &lobby.join(",")).await;

    // A room send with an exception: the sender's room-mate on the other instance only.
    assert_eq!(b1.ask("room:lobby:psst").await, "sent to 0");
    assert_eq!(a1.recv_text().await, "psst");
    for client in [&mut a1, &mut a2, &mut b1, &mut b2] {
        nothing_pending(client).await;
    }

    // send_to a client of the other instance.
    let b2_id = b2.ask("id").await;
    assert_eq!(a2.ask(&format!("to:{b2_id}:just you")).await, "Ok(())");
    assert_eq!(b2.recv_text().await, "just you");
    for client in [&mut a1, &mut b1, &mut b2] {
        nothing_pending(client).await;
    }

    // A path: the clients of `/hub/a`, all on A.
    assert_eq!(b1.ask("path:/hub/a:to a").await, "sent to 0");
    assert_eq!(a1.recv_text().await, "to a");
    assert_eq!(a2.recv_text().await, "to a");
    nothing_pending(&mut b2).await;

    // Presence texts are seen everywhere.
    assert_eq!(a1.ask("presence:ada").await, "set");
    assert_eq!(b1.ask("presence:bob").await, "set");
    until(&mut b2, "who:lobby", "ada,bob").await;
    until(&mut a2, "who:lobby", "ada,bob").await;

    // Leaving and disconnecting are seen everywhere.
    assert_eq!(a1.ask("leave:lobby").await, "left");
    until(&mut b2, "members:lobby", &b1.ask("id").await).await;
    b1.close().await;
    until(&mut a2, "count", "3").await;
    until(&mut a2, "members:lobby", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_that_dies_leaves_the_presence_within_the_bound() {
    let redis = RedisServer::start();
    let a = Instance::start(&redis.url());
    let b = Instance::start(&redis.url());
    let mut a1 = a.client("/hub/a").await;
    let mut b1 = b.client("/hub/b").await;
    let mut b2 = b.client("/hub/b").await;
    assert_eq!(b1.ask("join:lobby").await, "joined");
    assert_eq!(b2.ask("join:lobby").await, "joined");
    let mut lobby = [b1.ask("id").await, b2.ask("id").await];
    lobby.sort();
    until(&mut a1, "count", "3").await;
    until(&mut a1, "members:lobby", &lobby.join(",")).await;

    b.kill();
    let bound = RedisBackplane::LIVENESS + RedisBackplane::HEARTBEAT * 3;
    let forgotten = until_within(&mut a1, "count", "1", bound).await;
    assert_eq!(a1.ask("members:lobby").await, "");
    println!("a dead instance was forgotten after {forgotten:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_resumes_after_redis_restarts() {
    let mut redis = RedisServer::start();
    let a = Instance::start(&redis.url());
    let b = Instance::start(&redis.url());
    let mut a1 = a.client("/hub/a").await;
    let mut a2 = a.client("/hub/a").await;
    let mut b1 = b.client("/hub/b").await;
    until(&mut a1, "count", "3").await;

    redis.kill();
    // Local delivery goes on without Redis.
    a1.send_text("all:local").await;
    assert_eq!(a2.recv_text().await, "local");

    redis.restart();
    let restarted = Instant::now();
    // Probe until a broadcast from A reaches B again.
    let mut probe = 0;
    loop {
        probe += 1;
        a1.send_text(&format!("all:probe {probe}")).await;
        match tokio::time::timeout(Duration::from_millis(100), b1.next_data()).await {
            Ok(_) => break,
            Err(_) => assert!(restarted.elapsed() < WAIT, "no delivery after the restart"),
        }
    }
    println!(
        "delivery resumed {:?} after Redis restarted",
        restarted.elapsed()
    );
    // Whatever else was in flight arrives before a later message, in order.
    a1.send_text("all:done").await;
    skip_until(&mut a1, "done").await;
    assert_eq!(a1.recv_text().await, "sent to 2");
    skip_until(&mut a2, "done").await;
    skip_until(&mut b1, "done").await;

    // Presence is rebuilt in the restarted Redis: a join after the restart is seen, and the
    // counts are whole again, also for an instance that starts now.
    assert_eq!(b1.ask("join:after").await, "joined");
    until(&mut a2, "members:after", &b1.ask("id").await).await;
    until(&mut a2, "count", "3").await;
    let c = Instance::start(&redis.url());
    let mut c1 = c.client("/hub/a").await;
    until(&mut c1, "count", "4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_cross_with_none_lost_or_duplicated() {
    const MESSAGES: usize = 10_000;
    let redis = RedisServer::start();
    let a = Instance::start(&redis.url());
    let b = Instance::start(&redis.url());
    let mut sender = a.client("/hub/a").await;
    let mut receiver = b.client("/hub/b").await;
    assert_eq!(receiver.ask("join:r").await, "joined");
    until(&mut sender, "members:r", &receiver.ask("id").await).await;

    let reading = tokio::spawn(async move {
        let mut received = Vec::with_capacity(MESSAGES);
        while received.len() < MESSAGES {
            received.push(receiver.recv_text().await);
        }
        nothing_pending(&mut receiver).await;
        received
    });
    for chunk in 0..MESSAGES / 500 {
        for n in chunk * 500..(chunk + 1) * 500 {
            sender.send_text(&format!("room:r:{n}")).await;
        }
        for _ in 0..500 {
            assert_eq!(sender.recv_text().await, "sent to 0");
        }
    }
    let received = reading.await.expect("the receiver read everything");
    let first_wrong = (0..MESSAGES).find(|&n| received[n] != n.to_string());
    assert_eq!(
        first_wrong, None,
        "a message lost, duplicated or out of order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_at_start_fails_clearly_unless_degraded() {
    let mut redis = RedisServer::start();
    redis.kill();
    let error = RedisBackplane::connect(&redis.url()).await.unwrap_err();
    assert!(matches!(error, RedisError::Unreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("cannot reach Redis at 127.0.0.1:") && message.contains("start_degraded"),
        "{message}"
    );
    let bad_url = RedisBackplane::connect("http://nowhere").await.unwrap_err();
    assert!(
        matches!(bad_url, RedisError::InvalidUrl { .. }),
        "{bad_url:?}"
    );

    // Degraded: serves alone, then joins the cluster once Redis answers.
    let url = redis.url();
    let a = Instance::serve(move || async move {
        let degraded = RedisBackplane::builder(&url).start_degraded().connect();
        commands(degraded.await.expect("a degraded start"))
    });
    let mut a1 = a.client("/hub/a").await;
    let mut a2 = a.client("/hub/a").await;
    a1.send_text("all:alone").await;
    assert_eq!(a2.recv_text().await, "alone");
    redis.restart();
    let b = Instance::start(&redis.url());
    let mut b1 = b.client("/hub/b").await;
    until(&mut b1, "count", "3").await;
    until(&mut a1, "count", "3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_example_spans_instances() {
    let redis = RedisServer::start();
    let [a, b] = [redis.url(), redis.url()].map(|url| {
        Instance::serve(
            move || async move { chat::app("test-token").backplane(connect(&url).await) },
        )
    });
    let mut ada = a.client("/chat").await;
    let mut bob = b.client("/chat").await;
    assert_eq!(
        join(&mut bob, "lobby", "bob", 1).await["data"]["members"],
        json!(["bob"])
    );

    // Ada's instance learns of bob's join through Redis; her ack lists him once it has.
    let started = Instant::now();
    let mut id = 1;
    loop {
        id += 1;
        let ack = join(&mut ada, "lobby", "ada", id).await;
        if ack["data"]["members"] == json!(["ada", "bob"]) {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "ada's ack never listed bob: {ack}"
        );
    }

    say(&mut ada, "hi bob").await;
    let message = next_matching(&mut bob, event("message")).await;
    assert_eq!(
        message["data"],
        json!({"from": "ada", "room": "lobby", "text": "hi bob"})
    );

    // The user count is the cluster's.
    bob.send_text(&json!({"event": "leave"}).to_string()).await;
    next_matching(&mut ada, |message| {
        message["event"] == "users" && message["data"]["count"] == 2
    })
    .await;
    bob.close().await;
    next_matching(&mut ada, |message| {
        message["event"] == "users" && message["data"]["count"] == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_stays_right_when_the_queue_to_redis_overflows() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::serve(move || async move {
        let small = RedisBackplane::builder(&url).outbox(16, 1 << 20).connect();
        commands(small.await.expect("connect to the test's Redis"))
    });
    let b = Instance::start(&redis.url());
    let mut a1 = a.client("/hub/a").await;
    let mut b1 = b.client("/hub/b").await;
    assert_eq!(a1.ask("join:before").await, "joined");
    let a1_id = a1.ask("id").await;
    until(&mut b1, "members:before", &a1_id).await;

    // While Redis holds every command, A's queue overflows: some sends and the room change
    // after them are dropped.
    assert_eq!(redis.command("CLIENT PAUSE 1500 ALL").unwrap(), "+OK");
    for _ in 0..40 {
        assert_eq!(a1.ask("path:/nowhere:x").await, "sent to 0");
    }
    assert_eq!(a1.ask("leave:before").await, "left");
    assert_eq!(a1.ask("join:after").await, "joined");

    // Once Redis answers again, A announces itself whole and B's picture is right.
    until(&mut b1, "members:after", &a1_id).await;
    until(&mut b1, "members:before", "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_rewritten_when_redis_loses_it() {
    let redis = RedisServer::start();
    let a = Instance::start(&redis.url());
    let mut a1 = a.client("/hub/a").await;
    assert_eq!(a1.ask("join:lobby").await, "joined");
    let a1_id = a1.ask("id").await;
    let b = Instance::start(&redis.url());
    let mut b1 = b.client("/hub/b").await;
    until(&mut b1, "members:lobby", &a1_id).await;

    // Redis forgets everything (a flush, an eviction) while both instances stay connected.
    assert_eq!(redis.command("FLUSHALL").unwrap(), "+OK");

    // Within a heartbeat A notices its claim is gone and writes its clients again, so an
    // instance that starts now learns of them.
    let c = Instance::start(&redis.url());
    let mut c1 = c.client("/hub/a").await;
    until(&mut c1, "members:lobby", &a1_id).await;
    until(&mut c1, "count", "3").await;
}

/// A resumable gateway: every client joins the lobby on connect; `say` goes to the lobby.
struct Lobby;

#[gateway("lobby", resume = "30s")]
impl Lobby {
    #[on_connect]
    async fn joined(&self, #[query("name")] name: String, conn: Connection) {
        conn.join("lobby");
        conn.set_presence(&name);
    }

    #[on_resume]
    async fn back(&self, conn: Connection) -> Json<serde_json::Value> {
        Json(json!({"event": "back", "data": conn.presence()}))
    }

    #[subscribe("say")]
    async fn say(&self, #[body] Json(n): Json<u64>, hub: Hub) -> Ack<()> {
        hub.room("lobby").emit("said", &n);
        Ack(())
    }

    #[subscribe("shout")]
    async fn shout(&self, #[body] Json(n): Json<u64>, hub: Hub) -> Ack<()> {
        hub.all().emit("shouted", &n);
        Ack(())
    }

    #[subscribe("whoami")]
    async fn whoami(&self, conn: Connection) -> Ack<serde_json::Value> {
        Ack(json!({"id": u64::from(conn.id()), "rooms": conn.rooms(), "presence": conn.presence()}))
    }

    /// `n` messages to a room nobody is in: `n` journal entries no session here needs.
    #[subscribe("noise")]
    async fn noise(&self, #[body] Json(n): Json<u64>, hub: Hub) -> Ack<()> {
        for _ in 0..n {
            hub.room("elsewhere").send("noise");
        }
        Ack(())
    }
}

impl Instance {
    /// Serves the resumable `Lobby` with a Redis backplane.
    fn lobby(redis_url: &str) -> Self {
        let url = redis_url.to_owned();
        Self::serve(move || async move { App::new().backplane(connect(&url).await).gateway(Lobby) })
    }
}

/// Reads `{"event":"said","data":n}` for each `n` of `expected`, in order.
async fn expect_said(client: &mut Client, expected: impl IntoIterator<Item = u64>) {
    for n in expected {
        assert_eq!(
            client.recv_json::<serde_json::Value>().await,
            json!({"event": "said", "data": n})
        );
    }
}

/// Ada on `a` (told who she is: her join is in the journal before anything sent later), Bob
/// on `b`, and `1..=3` said by Bob and read by Ada.
async fn ada_and_bob(a: &Instance, b: &Instance) -> (Client, serde_json::Value, Client) {
    let mut ada = Client::connect(a.addr, "/lobby?name=ada").await;
    let who: serde_json::Value = ada.request("whoami", &()).await.unwrap();
    let mut bob = Client::connect(b.addr, "/lobby?name=bob").await;
    for n in 1..=3 {
        bob.request::<()>("say", &n).await.unwrap();
    }
    expect_said(&mut ada, 1..=3).await;
    ada.ack().await;
    (ada, who, bob)
}

/// Resumes `session` on `addr` as ada: the session goes on, she gets `missed` once and in
/// order, then `#[on_resume]`'s value; she is the same client (`who`), and the next message bob
/// says is the next she hears (nothing came twice).
async fn resume_ada(
    addr: SocketAddr,
    session: &gateway::test::Session,
    who: &serde_json::Value,
    missed: std::ops::RangeInclusive<u64>,
    bob: &mut Client,
) -> Client {
    let (mut ada, answer) = Client::resume(addr, "/lobby?name=ada", session).await;
    assert!(
        matches!(answer, gateway::test::Resume::Resumed { .. }),
        "{answer:?}"
    );
    let next = missed.end() + 1;
    expect_said(&mut ada, missed).await;
    assert_eq!(ada.recv_json::<serde_json::Value>().await["event"], "back");
    assert_eq!(
        &ada.request::<serde_json::Value>("whoami", &())
            .await
            .unwrap(),
        who
    );
    bob.request::<()>("say", &next).await.unwrap();
    expect_said(&mut ada, [next]).await;
    ada
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_resumes_on_another_instance_with_everything_sent_meanwhile() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, who, mut bob) = ada_and_bob(&a, &b).await;
    bob.request::<()>("say", &4).await.unwrap();
    let session = ada.session().await;
    // The load balancer sends her elsewhere; her instance still holds her session.
    drop(ada);
    for n in 5..=8 {
        bob.request::<()>("say", &n).await.unwrap();
    }

    // 4 had reached her socket or not; either way she gets it once, then what she missed, as
    // the same client on another instance.
    let mut ada = resume_ada(b.addr, &session, &who, 4..=8, &mut bob).await;
    // Her first instance let her go: messages reach her once, from her new one.
    a.kill();
    bob.request::<()>("say", &10).await.unwrap();
    expect_said(&mut ada, [10]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_whose_instance_died_resumes_on_another_with_nothing_lost() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, who, mut bob) = ada_and_bob(&a, &b).await;
    let session = ada.session().await;
    // Killed without a goodbye: no Close, nothing cleaned up in Redis.
    a.kill();
    for n in 4..=8 {
        bob.request::<()>("say", &n).await.unwrap();
    }
    resume_ada(b.addr, &session, &who, 4..=8, &mut bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarting_while_a_session_is_parked_loses_nothing_on_its_instance() {
    let mut redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, who, mut bob) = ada_and_bob(&a, &b).await;
    let session = ada.session().await;
    drop(ada);
    redis.restart();
    // Sent while Redis was gone or empty: each instance queues and publishes once it is back.
    for n in 4..=6 {
        bob.request::<()>("say", &n).await.unwrap();
    }
    resume_ada(a.addr, &session, &who, 4..=6, &mut bob).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_entries_that_cannot_be_read_are_passed_and_make_sessions_lost_not_gapped() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, _, _bob) = ada_and_bob(&a, &b).await;
    // More than one read's worth of entries this version cannot read (another version's, or
    // not ours at all): the readers pass them instead of reading them again forever.
    for n in 0..600 {
        let entry = if n % 2 == 0 { "e not-a-frame" } else { "x y" };
        redis
            .command(&format!("XADD gateway:journal * {entry}"))
            .unwrap();
    }
    let session = ada.session().await;
    // Any of them may have been a message for her (the bus carried the same frames): her
    // connection closes with 1011 and her session cannot resume without a gap.
    expect_closed_for_loss(&mut ada).await;
    let (_, answer) = Client::resume(a.addr, "/lobby?name=ada", &session).await;
    assert_eq!(
        answer,
        gateway::test::Resume::Fresh(gateway::resume::FreshReason::Lost)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_dropped_by_a_full_queue_make_resumable_sessions_lost_not_gapped() {
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::serve(move || async move {
        let backplane = RedisBackplane::builder(&url)
            .outbox(64, 1 << 20)
            .connect()
            .await
            .expect("connect to the test's Redis");
        App::new().backplane(backplane).gateway(Lobby)
    });
    let mut ada = Client::connect(a.addr, "/lobby?name=ada").await;
    let _: serde_json::Value = ada.request("whoami", &()).await.unwrap();
    let session = ada.session().await;
    // One handler sends 1,000 messages at once: a queue of 64 cannot take them, and a handler
    // that is running cannot be slowed. Ada was not addressed, but any dropped send may have
    // been for her (or for a session on another instance): every resumable session is lost.
    let mut bob = Client::connect(a.addr, "/lobby?name=bob").await;
    bob.send_json(&json!({"event": "noise", "data": 1000}))
        .await;
    expect_closed_for_loss(&mut ada).await;
    let (_, answer) = Client::resume(a.addr, "/lobby?name=ada", &session).await;
    assert_eq!(
        answer,
        gateway::test::Resume::Fresh(gateway::resume::FreshReason::Lost)
    );
}

/// Reads until the connection closes, which must be with 1011: messages may have been lost.
async fn expect_closed_for_loss(client: &mut Client) {
    loop {
        match client.next_data().await {
            Message::Close(Some(frame)) => {
                assert_eq!(u16::from(frame.code), 1011);
                return;
            }
            Message::Close(None) => panic!("closed without a code"),
            _ => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_fell_behind_the_journal_s_trimming_says_so_to_its_sessions() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, _, mut bob) = ada_and_bob(&a, &b).await;
    let session = ada.session().await;
    // Five entries gone before A's reader read them: what trimming does to a reader that fell
    // more than the journal's byte budget behind.
    redis.command("INCRBY gateway:journal:n 5").unwrap();
    bob.request::<()>("say", &4).await.unwrap();
    // Ada is not left with a gap: her connection closes with 1011, and her session is lost.
    expect_closed_for_loss(&mut ada).await;
    let (_, answer) = Client::resume(a.addr, "/lobby?name=ada", &session).await;
    assert_eq!(
        answer,
        gateway::test::Resume::Fresh(gateway::resume::FreshReason::Lost)
    );
    // The instance goes on: a new session there hears what is said from now on.
    let mut carol = Client::connect(a.addr, "/lobby?name=carol").await;
    let _: serde_json::Value = carol.request("whoami", &()).await.unwrap();
    let mut dan = Client::connect(b.addr, "/lobby?name=dan").await;
    dan.request::<()>("say", &5).await.unwrap();
    expect_said(&mut carol, [5]).await;
}

/// A resumable gateway behind a guard, beside the resumable `Lobby` with none.
struct Vault;

#[gateway("vault", resume = "30s")]
#[guard(BearerToken::new(|token| token == "letmein"))]
impl Vault {
    #[on_connect]
    async fn joined(&self, conn: Connection) {
        conn.join("vault");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_resumes_only_on_the_endpoint_that_made_it_never_past_another_s_guard() {
    let redis = RedisServer::start();
    let url = redis.url();
    let serve = |url: String| {
        Instance::serve(move || async move {
            App::new()
                .backplane(connect(&url).await)
                .gateway(Vault)
                .gateway(Lobby)
        })
    };
    let (a, b) = (serve(url.clone()), serve(url));
    let bearer = [("authorization", "Bearer letmein")];
    let mut insider = Client::connect_with(a.addr, "/vault", &bearer)
        .await
        .unwrap();
    let session = insider.session().await;
    drop(insider);
    // The vault's token, presented on the unguarded endpoint, on this instance or another.
    for addr in [a.addr, b.addr] {
        let (_, answer) = Client::resume(addr, "/lobby?name=eve", &session).await;
        assert_eq!(
            answer,
            gateway::test::Resume::Fresh(gateway::resume::FreshReason::Unknown)
        );
    }
    // The vault's own endpoint, through its guard, still resumes it.
    let resumed = Client::resume_with(b.addr, "/vault", &session, &bearer).await;
    let (_, answer) = resumed.expect("the guard lets the credentials through");
    assert!(
        matches!(answer, gateway::test::Resume::Resumed { .. }),
        "{answer:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_resumes_of_one_session_at_once_leave_one_connection_with_it_never_a_copy() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, who, mut bob) = ada_and_bob(&a, &b).await;
    let session = ada.session().await;
    drop(ada);
    let attempts = (0..20).map(|n| {
        let addr = if n % 2 == 0 { a.addr } else { b.addr };
        let session = session.clone();
        async move { Client::resume(addr, "/lobby?name=ada", &session).await }
    });
    let answered = futures_util::future::join_all(attempts).await;
    let mut resumed: Vec<Client> = answered
        .into_iter()
        .filter(|(_, answer)| matches!(answer, gateway::test::Resume::Resumed { .. }))
        .map(|(client, _)| client)
        .collect();
    assert!(!resumed.is_empty(), "no resume went through");
    // One connection has the session; every other that was told `$resumed` was taken over
    // (closed with 4000). The next message said reaches her once.
    bob.request::<()>("say", &4).await.unwrap();
    let mut holders = Vec::new();
    for mut client in resumed.drain(..) {
        loop {
            match client.next_data().await {
                Message::Close(Some(frame)) => {
                    assert_eq!(u16::from(frame.code), 4000);
                    break;
                }
                Message::Text(text) if text.contains(r#""said""#) => {
                    let said: serde_json::Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(said["data"], 4);
                    holders.push(client);
                    break;
                }
                _ => {} // what was replayed, `#[on_resume]`'s answer
            }
        }
    }
    assert_eq!(
        holders.len(),
        1,
        "{} connections hold her session",
        holders.len()
    );
    // Still herself (same id, still in the lobby), and the next message reaches her once.
    let holder = &mut holders[0];
    let me: serde_json::Value = holder.request("whoami", &()).await.unwrap();
    assert_eq!(me, who);
    bob.request::<()>("say", &5).await.unwrap();
    // (The `#[on_resume]` answer of a connection taken over mid-call is the session's too: it
    // may arrive on the holder at any point.)
    let said = loop {
        let message: serde_json::Value = holder.recv_json().await;
        if message["event"] != "back" {
            break message;
        }
    };
    assert_eq!(said, json!({"event": "said", "data": 5}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_resumed_elsewhere_gets_nothing_sent_before_it_began() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let mut bob = Client::connect(b.addr, "/lobby?name=bob").await;
    let mut witness = Client::connect(a.addr, "/lobby?name=witness").await;
    let _: serde_json::Value = witness.request("whoami", &()).await.unwrap();
    for n in 1..=3 {
        bob.request::<()>("shout", &n).await.unwrap();
    }
    // A has applied all three before ada's session begins there.
    for n in 1..=3 {
        let shouted: serde_json::Value = witness.recv_json().await;
        assert_eq!(shouted, json!({"event": "shouted", "data": n}));
    }
    let mut ada = Client::connect(a.addr, "/lobby?name=ada").await;
    let _: serde_json::Value = ada.request("whoami", &()).await.unwrap();
    let session = ada.session().await;
    drop(ada);
    // She has heard nothing, and nothing was sent to her: on B, nothing is replayed.
    let (mut ada, answer) = Client::resume(b.addr, "/lobby?name=ada", &session).await;
    assert!(
        matches!(answer, gateway::test::Resume::Resumed { replay: 0 }),
        "{answer:?}"
    );
    assert_eq!(ada.recv_json::<serde_json::Value>().await["event"], "back");
    bob.request::<()>("shout", &4).await.unwrap();
    let shouted: serde_json::Value = ada.recv_json().await;
    assert_eq!(shouted, json!({"event": "shouted", "data": 4}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_acknowledged_resumes_elsewhere_after_a_flood_of_others_messages() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let (mut ada, who, mut bob) = ada_and_bob(&a, &b).await;
    let session = ada.session().await;
    drop(ada);
    // While she is away, 30,000 messages to a room she is not in pass through the journal.
    for _ in 0..30 {
        bob.request::<()>("noise", &1000).await.unwrap();
    }
    bob.request::<()>("say", &4).await.unwrap();
    resume_ada(b.addr, &session, &who, 4..=4, &mut bob).await;
}

/// `/flood` sends each message to a path nobody serves, `/real` to room `r`: both cross Redis.
struct Flood;

#[controller("")]
impl Flood {
    #[websocket("flood", mode = ReceiveOnly)]
    async fn flood(&self, #[body] text: String, hub: Hub) {
        hub.path("/void").send(text);
    }

    #[websocket("real", mode = ReceiveOnly)]
    async fn real(&self, #[body] text: String, hub: Hub) {
        hub.room("r").send(text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooder_is_slowed_and_no_one_else_s_message_is_dropped_while_redis_is_up() {
    let redis = RedisServer::start();
    let serve = |url: String| {
        Instance::serve(move || async move {
            let backplane = RedisBackplane::builder(&url)
                .outbox(256, 1 << 20)
                .connect()
                .await
                .expect("connect to the test's Redis");
            App::new()
                .backplane(backplane)
                .outbound_queue(100_000)
                .controller(Commands)
                .controller(Flood)
        })
    };
    let (a, b) = (serve(redis.url()), serve(redis.url()));
    let mut member = b.client("/hub/a").await;
    assert_eq!(member.ask("join:r").await, "joined");
    let mut flooder = a.client("/flood").await;
    let flood = tokio::spawn(async move {
        for _ in 0..50_000 {
            flooder.send_text("x").await;
        }
        flooder
    });
    // Redis up but slow for a while: the queue to it fills.
    redis.command("CLIENT PAUSE 1000 ALL").unwrap();
    let mut real = a.client("/real").await;
    for n in 0..200 {
        real.send_text(&format!("real-{n}")).await;
    }
    for n in 0..200 {
        assert_eq!(member.recv_text().await, format!("real-{n}"));
    }
    flood.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_rebuilt_from_a_long_journal_do_not_hold_up_delivery_to_anyone_else() {
    let redis = RedisServer::start();
    let (a, b) = (Instance::lobby(&redis.url()), Instance::lobby(&redis.url()));
    let mut bob = Client::connect(b.addr, "/lobby?name=bob").await;
    let mut sessions = Vec::new();
    for n in 0..10 {
        let mut client = Client::connect(a.addr, &format!("/lobby?name=s{n}")).await;
        let _: serde_json::Value = client.request("whoami", &()).await.unwrap();
        sessions.push(client);
    }
    // Each hears 1 and never acknowledges it: its checkpoint stays at its start, before all
    // that follows.
    bob.request::<()>("say", &1).await.unwrap();
    let mut parked = Vec::new();
    for mut client in sessions {
        expect_said(&mut client, [1]).await;
        parked.push(client.session().await);
    }
    // 5,000 entries: each fold takes about 0.2 s in a debug build, far longer than carol's
    // message needs, and ten of them stay well within the test client's wait on a loaded machine.
    for _ in 0..5 {
        bob.request::<()>("noise", &1000).await.unwrap();
    }
    let mut carol = Client::connect(b.addr, "/lobby?name=carol").await;
    let _: serde_json::Value = carol.request("whoami", &()).await.unwrap();
    // Ten resumes on B, each folding 5,000 entries, while carol is waiting for a message.
    let resumes = tokio::spawn(futures_util::future::join_all(
        parked
            .into_iter()
            .enumerate()
            .map(|(n, session)| async move {
                let (_client, answer) =
                    Client::resume(b.addr, &format!("/lobby?name=s{n}"), &session).await;
                assert!(
                    matches!(answer, gateway::test::Resume::Resumed { .. }),
                    "{answer:?}"
                );
            }),
    ));
    bob.request::<()>("say", &2).await.unwrap();
    expect_said(&mut carol, [2]).await;
    assert!(
        !resumes.is_finished(),
        "the folds were over before carol's message arrived: this test proves nothing"
    );
    resumes.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_in_redis_stays_within_its_byte_budget() {
    const BUDGET: usize = 256 << 10;
    let redis = RedisServer::start();
    let url = redis.url();
    let a = Instance::serve(move || async move {
        let backplane = RedisBackplane::builder(&url)
            .journal_bytes(BUDGET)
            .connect()
            .await
            .expect("connect to the test's Redis");
        App::new().backplane(backplane).gateway(Lobby)
    });
    let mut bob = Client::connect(a.addr, "/lobby?name=bob").await;
    // About 100 bytes an entry, 20,000 entries: 2 MB without the budget.
    for _ in 0..20 {
        bob.request::<()>("noise", &1000).await.unwrap();
    }
    bob.request::<()>("say", &1).await.unwrap();
    expect_said(&mut bob, [1]).await;
    let reply = redis.command("MEMORY USAGE gateway:journal").unwrap();
    let used: usize = reply
        .trim_start_matches(':')
        .parse()
        .expect("an integer reply");
    assert!(
        used < 2 * BUDGET,
        "the journal takes {used} bytes of Redis with a budget of {BUDGET}"
    );
}

/// The chat example as a process of its own, so a test can SIGKILL it. Built by
/// `cargo build --example chat --features redis` (`.ci/run` does, before these tests).
struct ChatProcess {
    child: std::process::Child,
    addr: SocketAddr,
}

impl ChatProcess {
    fn start(redis_url: &str) -> Self {
        use std::io::BufRead;
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").to_owned());
        let binary = format!("{target}/debug/examples/chat");
        assert!(
            std::path::Path::new(&binary).exists(),
            "{binary} is missing: run `cargo build --example chat --features redis` first"
        );
        let mut child = std::process::Command::new(&binary)
            .env("REDIS_URL", redis_url)
            .env("PORT", "0")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the chat example");
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("listening on http://")?.parse().ok())
            .expect("the chat example's address");
        // Drained for the rest of its life, so its output never fills the pipe.
        std::thread::spawn(move || lines.for_each(drop));
        ChatProcess { child, addr }
    }
}

impl Drop for ChatProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chat_member_whose_instance_is_sigkilled_resumes_on_another_with_nothing_lost() {
    let redis = RedisServer::start();
    let (mut a, b) = (
        ChatProcess::start(&redis.url()),
        ChatProcess::start(&redis.url()),
    );
    let mut ada = Client::connect(a.addr, "/chat").await;
    join(&mut ada, "lobby", "ada", 1).await;
    let mut bob = Client::connect(b.addr, "/chat").await;
    join(&mut bob, "lobby", "bob", 1).await;
    for text in ["1", "2", "3"] {
        say(&mut bob, text).await;
        assert_eq!(
            next_matching(&mut ada, event("message")).await["data"]["text"],
            text
        );
    }
    ada.ack().await;
    let session = ada.session().await;

    // SIGKILL: no Close to anyone, nothing cleaned up in Redis.
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    for text in ["4", "5", "6"] {
        say(&mut bob, text).await;
    }
    let (mut ada, answer) = Client::resume(b.addr, "/chat", &session).await;
    assert!(
        matches!(answer, gateway::test::Resume::Resumed { .. }),
        "{answer:?}"
    );
    for text in ["4", "5", "6"] {
        assert_eq!(
            next_matching(&mut ada, event("message")).await["data"]["text"],
            text
        );
    }
    say(&mut bob, "7").await;
    assert_eq!(
        next_matching(&mut ada, event("message")).await["data"]["text"],
        "7"
    );
    // Still in the lobby under her name, on the other instance.
    say(&mut ada, "back").await;
    let heard = next_matching(&mut bob, event("message")).await;
    assert_eq!(
        heard["data"],
        json!({"from": "ada", "room": "lobby", "text": "back"})
    );
}
