//! Every bound at once: one app, every way a client can make it hold memory tried together
//! (huge headers on many connections, unfinished messages, readers that stall, event streams
//! that stall, resumable sessions that never acknowledge, sessions that vanish), each far past
//! its bound; the
//! process's RSS must stay within the sum the README's "Limits and hostile clients" gives.
//! With the feature `redis` the app is an instance of a cluster, and the cluster's bounds are
//! filled too: the queue to a Redis that stalls, and the journal's budget in Redis.

mod common;

use common::procfs::rss_bytes;
use common::raw::{connect_small, header, RawClient, OP_BINARY};
use gateway::prelude::*;
use gateway::resume::ResumeLimits;
use gateway::sse::Event;
use gateway::test::{start, Client};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Resumable sessions in one room.
struct Room;

#[gateway("room", resume = "1m")]
impl Room {
    #[on_connect]
    async fn joined(&self, conn: Connection) {
        conn.join("room");
    }
}

/// `/stall` sends nothing back; the test sends to its clients through the hub.
struct Quiet;

#[controller("")]
impl Quiet {
    #[websocket("stall", mode = ReceiveOnly)]
    async fn stall(&self) {}

    /// Passes a message on to a path nobody serves: in a cluster it crosses Redis (and its
    /// journal), and the client is slowed while the queue to Redis is high.
    #[websocket("relay")]
    async fn relay(&self, #[body] text: String, hub: Hub) -> &'static str {
        hub.path("/nowhere").send(text);
        "relayed"
    }
}

const MIB: usize = 1 << 20;
const CONNECTIONS: usize = 150;
const HEAD: usize = 8 << 10;
const INBOUND: usize = 4 * MIB;
const OUTBOUND: usize = 256 << 10;
const KEPT: usize = 4 * MIB;
const PARKED: usize = 50;
const SLOW_READERS: usize = 20;
const SLOW_STREAMS: usize = 10;
const RESUMABLE: usize = 60;
/// What each resumable session is sent per round.
const ROUND: usize = 256 << 10;

/// In a cluster: the payload bytes that may wait for Redis, and the journal's budget in Redis.
#[cfg(feature = "redis")]
const OUTBOX: usize = 32 * MIB;
/// (A journal shorter than a burst of sends would be trimmed before its readers read them,
/// and every resumable session would be lost: 16 MiB holds the test's largest burst.)
#[cfg(feature = "redis")]
const JOURNAL: usize = 16 * MIB;
/// The size of each message the test relays through the cluster.
#[cfg(feature = "redis")]
const ENTRY: usize = 16 << 10;

/// What the README's sum allows for this app, besides what the process held before: the
/// connections with their headers, the inbound budget, the queues of clients behind, the
/// resume buffers and parked sessions. A debug build's connection costs more than a release
/// build's 2.8 KiB: 16 KiB each is allowed, and 32 MiB for the allocator and the runtime.
fn allowed() -> usize {
    let connections = CONNECTIONS + SLOW_READERS + SLOW_STREAMS + RESUMABLE;
    connections * (16 << 10)
        + CONNECTIONS * HEAD
        + INBOUND
        + SLOW_READERS * 2 * OUTBOUND
        + SLOW_STREAMS * 2 * MIB
        + 2 * KEPT
        + PARKED * (4 << 10)
        + cluster_terms()
        + 32 * MIB
}

/// The queue to Redis, and ten times the largest burst of sends while it crosses Redis (here a
/// round of messages to the resumable sessions, sent at once).
fn cluster_terms() -> usize {
    #[cfg(feature = "redis")]
    return OUTBOX + 10 * RESUMABLE * ROUND;
    #[cfg(not(feature = "redis"))]
    0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bound_filled_at_once_holds_no_more_than_their_sum() {
    let app = App::new()
        .max_connections(1_000)
        .max_request_head(HEAD)
        .inbound_budget(INBOUND)
        .outbound_queue(1_000_000)
        .outbound_bytes(OUTBOUND)
        .slow_consumer_timeout(Duration::from_secs(60))
        .resume_limits(ResumeLimits {
            kept_bytes: KEPT,
            parked_sessions: PARKED,
            ..ResumeLimits::default()
        })
        .controller(common::Echo)
        .controller(Quiet)
        .controller(common::Feed)
        .gateway(Room);
    #[cfg(feature = "redis")]
    let redis = common::redis::RedisServer::start();
    #[cfg(feature = "redis")]
    let app = app.backplane(
        gateway::backplane::RedisBackplane::builder(&redis.url())
            .outbox(1_000_000, OUTBOX)
            .journal_bytes(JOURNAL)
            .connect()
            .await
            .expect("connect to the test's Redis"),
    );
    let hub = app.hub();
    let addr = start(app).await;
    let before = rss_bytes("/proc/self/status");

    // Connections that keep nearly the largest request head for their life.
    let padding = format!("x-padding: {}\r\n", "p".repeat(HEAD - 1024));
    let mut idle = Vec::new();
    for _ in 0..CONNECTIONS {
        idle.push(RawClient::connect_with(addr, "/echo", &padding).await);
    }
    // Unfinished messages: 40 MB tried against a budget of 4 MiB (most are refused, 1013).
    for client in idle.iter_mut().take(40) {
        client
            .send_bytes(&header(false, OP_BINARY, 1_000_000))
            .await;
        client.send_bytes(&vec![0; 1_000_000]).await;
    }
    // Readers that stall, each sent 4 MB of its own (80 MB tried).
    let mut stalled = Vec::new();
    for _ in 0..SLOW_READERS {
        stalled.push(RawClient::connect_small(addr, "/stall").await);
    }
    for round in 0..16 {
        for id in hub.path("/stall").members() {
            let _ = hub.send_to(id, vec![round as u8; 256 << 10]);
        }
    }
    // Event streams that stall, sent 20 MB (their bytes shared by all of them).
    let mut streams = Vec::new();
    for _ in 0..SLOW_STREAMS {
        let mut stream = connect_small(addr).await;
        let request = format!("GET /feed HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).await.unwrap();
        streams.push(stream);
    }
    let event = "e".repeat(100_000);
    for _ in 0..200 {
        hub.sse("/feed").send(Event::default().data(&event));
    }
    // Resumable sessions whose clients read everything and never acknowledge, each sent 1 MiB
    // of its own: what a session keeps at most, 60 MiB if nothing else bounded them.
    let (read, mut reads) = tokio::sync::mpsc::unbounded_channel();
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..RESUMABLE {
        let mut client = Client::connect(addr, "/room").await;
        client.session().await;
        let read = read.clone();
        readers.spawn(async move {
            for _ in 0..4 {
                client.next_data().await;
                read.send(()).ok();
            }
            client
        });
    }
    // A round at a time, each read by everyone before the next: kept, not queued.
    for round in 0..4 {
        for id in hub.room("room").members() {
            let _ = hub.send_to(id, vec![round as u8; ROUND]);
        }
        for _ in 0..RESUMABLE {
            reads.recv().await.unwrap();
        }
    }
    let readers = readers.join_all().await;
    // And sessions that vanish: past the parked bound, the oldest end.
    for _ in 0..2 * PARKED {
        Client::connect(addr, "/room").await.session().await;
    }

    // In a cluster: 48 MiB through the journal (3 times its budget), then 64 MiB sent while
    // Redis stalls (twice what may wait for it).
    #[cfg(feature = "redis")]
    {
        let mut relay = Client::connect(addr, "/relay").await;
        let entry = "j".repeat(ENTRY);
        for _ in 0..3 * JOURNAL / ENTRY {
            assert_eq!(relay.ask(&entry).await, "relayed");
        }
        redis.command("CLIENT PAUSE 3000 ALL").unwrap();
        for _ in 0..2 * OUTBOX / ENTRY {
            hub.path("/nowhere").send(vec![2; ENTRY]);
        }
    }

    // Everything is in place; the server still answers.
    let mut other = Client::connect(addr, "/echo").await;
    assert_eq!(other.ask("still serving").await, "still serving");
    let grown = rss_bytes("/proc/self/status").saturating_sub(before);
    assert!(
        grown < allowed(),
        "RSS grew by {} MiB with every bound filled; their sum allows {} MiB",
        grown / MIB,
        allowed() / MIB
    );
    // And Redis holds no more journal than its budget (with what Redis spends on a stream).
    #[cfg(feature = "redis")]
    {
        let reply = redis.command("MEMORY USAGE gateway:journal").unwrap();
        let used: usize = reply.trim_start_matches(':').parse().expect("an integer");
        assert!(
            used < 2 * JOURNAL,
            "the journal takes {} KiB of Redis; its budget is {} KiB",
            used >> 10,
            JOURNAL >> 10
        );
    }
    drop((idle, stalled, streams, readers));
}
