//! Hostile and bursty clients: what each one tries, and the bound that holds. Memory is read
//! from this process's RSS (server and clients share it; the clients here are raw sockets that
//! hold next to nothing).

mod common;

use common::commands::Commands;
use common::procfs::rss_bytes;
use common::raw::{
    connect_small, frame, header, upgrade_request, RawClient, OP_BINARY, OP_CLOSE, OP_CONTINUATION,
    OP_PING, OP_TEXT,
};
use common::{Echo, Feed, OnClose};
use gateway::prelude::*;
use gateway::sse::Event;
use gateway::test::{start, Client, SseReader, WAIT};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Tests that read this process's RSS run one at a time (they share the process).
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rss() -> usize {
    rss_bytes("/proc/self/status")
}

/// Another client is still answered.
async fn assert_still_serving(addr: SocketAddr) {
    let mut other = Client::connect(addr, "/echo").await;
    assert_eq!(other.ask("still serving").await, "still serving");
}

/// The close code and reason of the next frame, which must be a Close.
async fn expect_close(client: &mut RawClient) -> (u16, String) {
    loop {
        let frame = client.read_frame().await;
        if frame.opcode == OP_CLOSE {
            return frame.close();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pings_without_reading_stops_being_read_and_pins_no_memory() {
    let _alone = MEMORY.lock().await;
    const PINGS: usize = 400_000; // 50 MB of Pongs if the server kept answering
    let addr = start(App::new().controller(Echo)).await;
    let mut flooder = RawClient::connect(addr, "/echo").await;
    let before = rss();

    let batch: Vec<u8> = (0..10_000)
        .flat_map(|_| frame(true, OP_PING, &[b'p'; 125]))
        .collect();
    let mut sent = 0;
    while sent < PINGS {
        // The server stops reading once it cannot write the Pongs: then the writes stall.
        if !flooder.try_send_bytes(&batch, Duration::from_secs(1)).await {
            break;
        }
        sent += 10_000;
    }
    let grown = rss().saturating_sub(before);
    assert!(
        sent < PINGS,
        "the server read all {PINGS} pings from a client that never read a Pong"
    );
    assert!(
        grown < 16 << 20,
        "RSS grew by {} MiB after {sent} pings",
        grown >> 20
    );
    assert_still_serving(addr).await;
}

/// Reads text messages until `count` have arrived; returns how many did before a Close, and
/// the client (still connected).
async fn read_messages(mut client: Client, count: usize) -> (usize, Client) {
    for received in 0..count {
        match client.next_data().await {
            tokio_tungstenite::tungstenite::Message::Text(_) => {}
            _ => return (received, client),
        }
    }
    (count, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_to_a_room_reaches_every_reading_member_while_a_stalled_one_is_still_evicted() {
    let _alone = MEMORY.lock().await;
    const BURST: usize = 5_000;
    const READERS: usize = 5;
    let (closed, mut closes) = mpsc::unbounded_channel();
    let app = App::new()
        // Small, so the stalled member meets the hard limit within the burst.
        .outbound_bytes(256 << 10)
        .close_timeout(Duration::from_millis(300))
        .observer(OnClose::new(move |summary| {
            closed.send(summary.clone()).ok();
        }))
        .controller(Commands);
    let hub = app.hub();
    let addr = start(app).await;

    let mut readers = Vec::new();
    for _ in 0..READERS {
        let mut member = Client::connect(addr, "/hub/a").await;
        assert_eq!(member.ask("join:room").await, "joined");
        readers.push(tokio::spawn(read_messages(member, BURST)));
    }
    let mut stalled = RawClient::connect_small(addr, "/hub/a").await;
    stalled.send_frame(OP_TEXT, b"id").await;
    let stalled_id = String::from_utf8(stalled.read_frame().await.payload).unwrap();
    stalled.send_frame(OP_TEXT, b"join:room").await;
    assert_eq!(stalled.read_frame().await.payload, b"joined");

    // One write carries the whole burst, as from a client with no pause between messages.
    let text = "x".repeat(2000);
    let burst: Vec<u8> = (0..BURST)
        .flat_map(|_| frame(true, OP_TEXT, format!("room:room:{text}").as_bytes()))
        .collect();
    let mut sender = RawClient::connect(addr, "/hub/b").await;
    sender.send_bytes(&burst).await;
    for _ in 0..BURST {
        // 6, or 5 once the stalled member is gone.
        assert!(sender.read_frame().await.payload.starts_with(b"sent to "));
    }

    let mut still_connected = Vec::new();
    for reader in readers {
        let (received, client) = reader.await.unwrap();
        assert_eq!(received, BURST, "a reading member missed messages");
        still_connected.push(client);
    }
    let summary = tokio::time::timeout(WAIT, closes.recv())
        .await
        .expect("the stalled member was never closed")
        .unwrap();
    assert_eq!(summary.client_id.unwrap().to_string(), stalled_id);
    assert_eq!(
        (summary.code, summary.reason.as_str()),
        (Some(1008), "slow consumer")
    );
    assert_eq!(hub.stats().evicted, 1, "only the stalled member");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_carried_a_large_message_goes_back_to_idle_size() {
    let _alone = MEMORY.lock().await;
    const CLIENTS: usize = 200;
    const MESSAGE: usize = 100_000;
    let addr = start(App::new().controller(Echo)).await;
    // Warm up: the allocator's first large blocks, the runtime's threads.
    let mut warm = RawClient::connect(addr, "/echo").await;
    warm.send_frame(OP_TEXT, &[b'w'; MESSAGE]).await;
    assert_eq!(warm.read_frame().await.payload.len(), MESSAGE);
    let before = rss();

    let mut idle = Vec::new();
    for _ in 0..CLIENTS {
        let mut client = RawClient::connect(addr, "/echo").await;
        client.send_frame(OP_TEXT, &[b'x'; MESSAGE]).await;
        assert_eq!(client.read_frame().await.payload.len(), MESSAGE);
        idle.push(client);
    }
    let per_connection = rss().saturating_sub(before) / CLIENTS;
    // An idle connection costs about 4 KiB on the server; the raw client's read buffer 8 KiB.
    assert!(
        per_connection < 24 << 10,
        "{} KiB per idle connection after one {MESSAGE}-byte message",
        per_connection >> 10
    );
    assert_still_serving(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_stall_inside_large_messages_hold_no_more_than_the_inbound_budget() {
    let _alone = MEMORY.lock().await;
    const CLIENTS: usize = 40;
    const CLAIMED: usize = 1_000_000;
    const SENT: usize = 900_000;
    const BUDGET: usize = 8 << 20;
    // Every stalled client ends, so each outcome is an event: 1013 at once when its message
    // would pass the budget, 1008 at the message timeout when it was held.
    let app = App::new()
        .inbound_budget(BUDGET)
        .message_timeout(Duration::from_secs(2))
        .controller(Echo);
    let addr = start(app).await;
    let before = rss();

    let mut stalled = Vec::new();
    let part = [b'x'; SENT];
    for _ in 0..CLIENTS {
        let mut client = RawClient::connect(addr, "/echo").await;
        client.send_bytes(&header(true, OP_BINARY, CLAIMED)).await;
        client.send_bytes(&part).await;
        stalled.push(client);
    }
    assert_still_serving(addr).await;
    let grown = rss().saturating_sub(before);

    let (mut refused, mut held) = (0, 0);
    for client in &mut stalled {
        match expect_close(client).await {
            (1013, reason) if reason == "server busy" => refused += 1,
            (1008, reason) if reason == "message timeout" => held += 1,
            other => panic!("a stalled client was closed with {other:?}"),
        }
    }
    assert_eq!(refused + held, CLIENTS);
    assert!(
        held <= BUDGET / SENT,
        "{held} clients held {SENT} bytes each within a {BUDGET}-byte budget"
    );
    assert!(
        grown < BUDGET + (8 << 20),
        "RSS grew by {} MiB with a {} MiB budget",
        grown >> 20,
        BUDGET >> 20
    );
}

#[tokio::test]
async fn a_message_not_completed_in_time_is_closed_with_1008() {
    let app = App::new()
        .message_timeout(Duration::from_millis(300))
        .controller(Echo);
    let addr = start(app).await;
    let mut client = RawClient::connect(addr, "/echo").await;
    client.send_bytes(&header(true, OP_TEXT, 1000)).await;
    client.send_bytes(&[b'x'; 10]).await;
    assert_eq!(
        expect_close(&mut client).await,
        (1008, "message timeout".to_owned())
    );
}

#[tokio::test]
async fn half_a_header_or_a_control_frame_not_completed_in_time_is_closed_with_1008() {
    let app = App::new()
        .message_timeout(Duration::from_millis(300))
        .controller(Echo);
    let addr = start(app).await;
    let ping = frame(true, OP_PING, &[b'p'; 125]);
    for unfinished in [
        &[0x81][..],
        &header(true, OP_TEXT, 70_000)[..5],
        &ping[..20],
    ] {
        let mut client = RawClient::connect(addr, "/echo").await;
        client.send_bytes(unfinished).await;
        assert_eq!(
            expect_close(&mut client).await,
            (1008, "message timeout".to_owned()),
            "{unfinished:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_given_up_on_and_what_it_held_goes_back() {
    let _alone = MEMORY.lock().await;
    const BUDGET: usize = 1 << 20;
    let (ended, mut ends) = mpsc::unbounded_channel();
    let app = App::new()
        .inbound_budget(BUDGET)
        .slow_consumer_timeout(Duration::from_millis(500))
        .observer(OnClose::new(move |_| {
            ended.send(()).ok();
        }))
        .controller(Echo);
    let addr = start(app).await;
    // Most of the budget in an unfinished message, then pings it never reads the Pongs of:
    // the server's writes stall, and it cannot be left holding the budget.
    let mut hoarder = RawClient::connect_small(addr, "/echo").await;
    hoarder.send_bytes(&header(false, OP_BINARY, 900_000)).await;
    hoarder.send_bytes(&vec![0; 900_000]).await;
    let pings: Vec<u8> = (0..2_000)
        .flat_map(|_| frame(true, OP_PING, &[b'p'; 125]))
        .collect();
    while hoarder
        .try_send_bytes(&pings, Duration::from_millis(200))
        .await
    {}
    // Given up on after half a second of taking nothing.
    tokio::time::timeout(WAIT, ends.recv())
        .await
        .expect("a client that took nothing was not given up on");
    // Another client's message that arrives in two reads fits the budget again.
    let mut other = RawClient::connect(addr, "/echo").await;
    let big = vec![b'a'; 600_000];
    let wire = frame(true, OP_TEXT, &big);
    other.send_bytes(&wire[..300_000]).await;
    tokio::task::yield_now().await;
    other.send_bytes(&wire[300_000..]).await;
    let echoed = other.read_frame().await;
    assert_eq!((echoed.opcode, echoed.payload.len()), (OP_TEXT, big.len()));
}

#[tokio::test]
async fn an_endless_message_of_empty_continuation_frames_is_closed_with_1009() {
    let addr = start(App::new().controller(Echo)).await;
    let mut client = RawClient::connect(addr, "/echo").await;
    client.send_bytes(&frame(false, OP_TEXT, b"")).await;
    let empties: Vec<u8> = (0..1000)
        .flat_map(|_| frame(false, OP_CONTINUATION, b""))
        .collect();
    for _ in 0..100 {
        // Stops taking frames once it has closed.
        if !client
            .try_send_bytes(&empties, Duration::from_millis(500))
            .await
        {
            break;
        }
    }
    assert_eq!(
        expect_close(&mut client).await,
        (1009, "too many frames".to_owned())
    );
    assert_still_serving(addr).await;
}

/// The status of an upgrade request to `/echo` with this `Sec-WebSocket-Key`.
async fn upgrade_status(addr: SocketAddr, key: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = upgrade_request(addr, "/echo", key, "");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).await.unwrap();
    String::from_utf8_lossy(&status[9..12]).parse().unwrap()
}

#[tokio::test]
async fn a_handshake_key_that_is_not_a_16_byte_nonce_gets_400() {
    let addr = start(App::new().controller(Echo)).await;
    assert_eq!(upgrade_status(addr, "dGhlIHNhbXBsZSBub25jZQ==").await, 101);
    for key in ["abc", "", &"A".repeat(4096), "dGhlIHNhbXBsZSBub25jZQ"] {
        assert_eq!(upgrade_status(addr, key).await, 400, "key {key:.30}");
    }
    // Two keys: which one would the answer be for?
    let two = "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==";
    assert_eq!(upgrade_status(addr, two).await, 400);
}

#[tokio::test]
async fn a_request_head_over_the_limit_is_refused_before_anything_is_kept() {
    let addr = start(App::new().max_request_head(16 << 10).controller(Echo)).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let padding = "x".repeat(8000);
    let headers: String = (0..8)
        .map(|index| format!("x-pad-{index}: {padding}\r\n"))
        .collect();
    let request = upgrade_request(addr, "/echo", "dGhlIHNhbXBsZSBub25jZQ==", &headers);
    stream.write_all(request.as_bytes()).await.ok();
    let mut response = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
        .await
        .ok();
    assert!(
        response.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_sse_reader_is_dropped_and_holds_no_more_than_its_queue() {
    let _alone = MEMORY.lock().await;
    const EVENTS: usize = 300;
    const EVENT: usize = 100_000;
    let app = App::new().controller(Feed);
    let hub = app.hub();
    let addr = start(app).await;
    let mut reader = SseReader::connect(addr, "/feed").await;
    let mut stalled = connect_small(addr).await;
    let request = format!("GET /feed HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    let mut status = [0u8; 12];
    stalled.read_exact(&mut status).await.unwrap();
    assert_eq!(&status[9..], b"200");
    let before = rss();

    let data = "x".repeat(EVENT);
    let mut reached = 0;
    for _ in 0..EVENTS {
        reached = hub.sse("/feed").send(Event::default().data(&data));
        // The reader keeps up: one event read before the next is sent.
        assert_eq!(reader.next_event().await.data.len(), EVENT);
    }
    let grown = rss().saturating_sub(before);
    assert_eq!(reached, 1, "the stalled reader is still being sent to");
    assert!(
        grown < 16 << 20,
        "RSS grew by {} MiB for a stalled SSE reader",
        grown >> 20
    );
    // Its connection is closed: reading what was written before reaches the end.
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(WAIT, stalled.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the stalled reader's connection stayed open");
}

/// A resumable gateway whose sessions report their end.
struct Hoard(mpsc::UnboundedSender<u64>);

#[gateway("hoard", resume = "1m")]
impl Hoard {
    #[on_disconnect]
    async fn ended(&self, conn: Connection) {
        self.0.send(conn.id().into()).ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_and_never_resume_pin_no_more_than_the_resume_limits() {
    let _alone = MEMORY.lock().await;
    const CLIENTS: usize = 50;
    const MESSAGES: usize = 100;
    const SIZE: usize = 64 << 10;
    let limits = gateway::resume::ResumeLimits {
        buffer_bytes: 1 << 20,
        kept_bytes: 8 << 20,
        ..Default::default()
    };
    let (ended, mut ends) = mpsc::unbounded_channel();
    let app = App::new()
        .resume_limits(limits)
        .controller(Echo)
        .gateway(Hoard(ended));
    let hub = app.hub();
    let addr = start(app).await;
    let before = rss();

    // Each client begins its session, then vanishes without a Close.
    for _ in 0..CLIENTS {
        let mut client = Client::connect(addr, "/hoard").await;
        client.session().await;
    }
    // 320 MiB if every session kept everything sent to it (each message its own bytes).
    let ids: Vec<_> = hub.all().members();
    for round in 0..MESSAGES {
        for id in &ids {
            let _ = hub.send_to(*id, vec![round as u8; SIZE]);
        }
    }
    assert_still_serving(addr).await;
    let grown = rss().saturating_sub(before);

    // Every session overflowed its buffer or kept more than its share of the app's budget:
    // all ended.
    for _ in 0..CLIENTS {
        tokio::time::timeout(WAIT, ends.recv())
            .await
            .expect("a session that could not keep its messages did not end")
            .unwrap();
    }
    assert!(
        grown < 2 * limits.kept_bytes + (24 << 20),
        "RSS grew by {} MiB with {} MiB of kept bytes allowed",
        grown >> 20,
        limits.kept_bytes >> 20
    );
}
