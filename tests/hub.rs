//! The Hub: targeting, rooms, cleanup, and what a client that stops reading costs.

mod common;

use common::commands::Commands;
use common::procfs::rss_bytes;
use common::raw::RawClient;
use common::OnClose;
use gateway::hub::SlowConsumer;
use gateway::prelude::*;
use gateway::test::{start, Client, WAIT};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

#[tokio::test]
async fn the_hub_reaches_one_client_a_room_a_path_or_everyone() {
    let addr = start(App::new().controller(Commands)).await;
    let mut a1 = Client::connect(addr, "/hub/a").await;
    let mut a2 = Client::connect(addr, "/hub/a").await;
    let mut b1 = Client::connect(addr, "/hub/b").await;

    // send_to: only the named client.
    let b1_id = b1.ask("id").await;
    assert_eq!(a1.ask(&format!("to:{b1_id}:psst")).await, "Ok(())");
    assert_eq!(b1.recv_text().await, "psst");

    // A room, except the sender.
    assert_eq!(a1.ask("join:lobby").await, "joined");
    assert_eq!(b1.ask("join:lobby").await, "joined");
    assert_eq!(a1.ask("room:lobby:hello lobby").await, "sent to 1");
    assert_eq!(b1.recv_text().await, "hello lobby");

    // A path: both /hub/a clients, the sender included, and not /hub/b.
    assert_eq!(b1.ask("path:/hub/a:to the a's").await, "sent to 2");
    assert_eq!(a1.recv_text().await, "to the a's");
    assert_eq!(a2.recv_text().await, "to the a's");

    // Everyone, the sender included (its broadcast copy arrives before its reply).
    a2.send_text("all:everyone").await;
    assert_eq!(a2.recv_text().await, "everyone");
    assert_eq!(a2.recv_text().await, "sent to 3");
    assert_eq!(a1.recv_text().await, "everyone");
    assert_eq!(b1.recv_text().await, "everyone");

    // Leaving a room stops its messages; nothing else arrived in between.
    assert_eq!(b1.ask("leave:lobby").await, "left");
    assert_eq!(a1.ask("room:lobby:anyone?").await, "sent to 0");
    assert_eq!(a1.ask("rooms").await, "lobby");
    assert_eq!(b1.ask("rooms").await, "");
}

#[tokio::test]
async fn members_of_a_room_carry_their_presence_text_until_they_leave() {
    let (closes, mut closed) = mpsc::unbounded_channel();
    let addr = start(
        App::new()
            .observer(OnClose::new(move |_| {
                closes.send(()).ok();
            }))
            .controller(Commands),
    )
    .await;
    let mut ada = Client::connect(addr, "/hub/a").await;
    let mut bob = Client::connect(addr, "/hub/b").await;
    for client in [&mut ada, &mut bob] {
        assert_eq!(client.ask("join:lobby").await, "joined");
    }
    assert_eq!(ada.ask("presence:ada").await, "set");
    assert_eq!(bob.ask("who:lobby").await, ",ada", "bob has set none yet");
    assert_eq!(bob.ask("presence:bob").await, "set");
    assert_eq!(bob.ask("presence:bob (away)").await, "set");
    assert_eq!(ada.ask("who:lobby").await, "ada,bob (away)");
    assert_eq!(ada.ask("count").await, "2");

    bob.close().await;
    // Observers hear of a close once the connection has left the hub.
    tokio::time::timeout(WAIT, closed.recv())
        .await
        .expect("bob's connection never ended");
    assert_eq!(ada.ask("who:lobby").await, "ada");
    assert_eq!(ada.ask("count").await, "1");
}

#[tokio::test]
async fn ten_thousand_connect_disconnect_cycles_leave_an_empty_registry_and_no_memory_behind() {
    const WARM_UP: usize = 1_000;
    const CYCLES: usize = 10_000;
    let (closed, mut closes) = mpsc::unbounded_channel();
    // Only a signal: the test measures memory, and cloning summaries would blur it.
    let app = App::new()
        .observer(OnClose::new(move |_| {
            closed.send(()).ok();
        }))
        .controller(Commands);
    let hub = app.hub();
    let addr = start(app).await;

    connect_and_leave(addr, WARM_UP, &mut closes).await;
    let settled = rss_bytes("/proc/self/status");
    connect_and_leave(addr, CYCLES, &mut closes).await;
    let after = rss_bytes("/proc/self/status");

    let stats = hub.stats();
    assert_eq!((stats.connections, stats.rooms), (0, 0), "{stats:?}");
    // Client and server share this process; both must give back what the cycles took.
    assert!(
        after <= settled + settled / 10,
        "RSS grew from {} KiB to {} KiB over {CYCLES} connections",
        settled / 1024,
        after / 1024
    );
}

/// `count` clients, 50 at a time, each joins a room and leaves: half close properly, half just
/// drop the TCP connection. Returns once the server has seen every one end (observers hear of a
/// connection's end after it has left the registry).
async fn connect_and_leave(
    addr: std::net::SocketAddr,
    count: usize,
    closes: &mut mpsc::UnboundedReceiver<()>,
) {
    const AT_ONCE: usize = 50;
    for _ in 0..count / AT_ONCE {
        let batch = (0..AT_ONCE).map(|index| async move {
            let mut client = Client::connect(addr, "/hub/a").await;
            let joined = client.ask(&format!("join:room-{}", index % 7)).await;
            assert_eq!(joined, "joined");
            if index % 2 == 0 {
                client.close().await;
            }
        });
        futures_util::future::join_all(batch).await;
    }
    for _ in 0..count {
        tokio::time::timeout(WAIT, closes.recv())
            .await
            .expect("a connection never ended");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_with_1008_while_the_others_get_everything() {
    const MESSAGE: usize = 64 * 1024;
    const MESSAGES: usize = 1600; // 100 MiB in all
    let (closed, mut closes) = mpsc::unbounded_channel();
    let summaries = OnClose::new(move |summary| {
        closed.send(summary.clone()).ok();
    });
    // The slow client's socket is full, so its Close frame cannot be written either: do not wait
    // long for it.
    let app = App::new()
        .observer(summaries)
        .close_timeout(std::time::Duration::from_millis(300))
        .controller(Commands);
    let hub = app.hub();
    let addr = start(app).await;

    let _slow = RawClient::connect(addr, "/hub/a").await; // never reads a byte
    let mut fast = Client::connect(addr, "/hub/a").await;
    assert_eq!(fast.ask("id").await, "2"); // both are registered now
    let rss_before = rss_bytes("/proc/self/status");

    let payload = gateway::reply::Bytes::from(vec![7u8; MESSAGE]);
    for index in 0..MESSAGES {
        hub.broadcast(payload.clone());
        // Keep the fast reader's queue short, as a real publisher's pace would.
        if index % 32 == 31 {
            for _ in 0..32 {
                match fast.next_data().await {
                    WsMessage::Binary(bytes) => assert_eq!(bytes.len(), MESSAGE),
                    other => panic!("expected a broadcast, got {other:?}"),
                }
            }
        }
    }

    let summary = tokio::time::timeout(WAIT, closes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.code, Some(1008), "{summary:?}");
    assert_eq!(summary.reason, "slow consumer");
    assert_eq!(hub.stats().evicted, 1);
    assert_eq!(hub.connection_count(), 1, "the fast client stays");
    let grown = rss_bytes("/proc/self/status").saturating_sub(rss_before);
    assert!(
        grown < 48 << 20,
        "memory grew by {} MiB for 100 MiB broadcast",
        grown >> 20
    );
}

#[tokio::test]
async fn with_the_drop_policy_a_slow_client_loses_messages_but_stays_connected() {
    let app = App::new()
        .slow_consumer(SlowConsumer::Drop)
        .outbound_queue(4)
        .controller(Commands);
    let hub = app.hub();
    let addr = start(app).await;
    let _slow = RawClient::connect(addr, "/hub/a").await;
    let mut probe = Client::connect(addr, "/hub/b").await;
    assert_eq!(probe.ask("id").await, "2");

    let big = gateway::reply::Bytes::from(vec![0u8; 1 << 20]);
    for _ in 0..64 {
        hub.path("/hub/a").send(big.clone());
    }
    let stats = hub.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.evicted, 0);
    assert_eq!(hub.connection_count(), 2);
}

/// Senders write straight into an idle client's socket; once it is full, messages queue and the
/// connection's loop writes them (after whatever part of a frame the socket did not take). A
/// client that stalls and then reads, or reads while two senders race, gets every message whole
/// and each sender's in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_gets_every_message_whole_and_each_senders_in_order() {
    let app = App::new()
        .outbound_queue(100_000)
        .outbound_bytes(512 << 20)
        .controller(Commands);
    let hub = app.hub();
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/hub/a").await;
    let id = client.ask("id").await;
    let id = hub
        .all()
        .members()
        .into_iter()
        .find(|member| member.to_string() == id)
        .unwrap();

    // Stalled: everything is sent before the client reads a byte (tens of MB: the socket
    // fills, then the queue takes the rest).
    for sender in send_all(&hub, id) {
        sender.await.unwrap();
    }
    read_all(&mut client).await;
    // Reading while the senders race.
    let senders = send_all(&hub, id);
    read_all(&mut client).await;
    for sender in senders {
        sender.await.unwrap();
    }
    // Still in step: a request is answered after all that.
    assert_eq!(client.ask("rooms").await, "");
}

const SENDERS: u8 = 2;
const EACH: u32 = 1500;

/// [`SENDERS`] tasks, each sending [`EACH`] numbered messages to `id`.
fn send_all(hub: &gateway::hub::Hub, id: ConnectionId) -> Vec<tokio::task::JoinHandle<()>> {
    (0..SENDERS)
        .map(|sender| {
            let hub = hub.clone();
            tokio::spawn(async move {
                for seq in 0..EACH {
                    hub.send_to(id, numbered(sender, seq)).unwrap();
                    if seq % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect()
}

/// Reads what [`send_all`] sent, checking each message and each sender's order.
async fn read_all(client: &mut Client) {
    let mut next = [0u32; SENDERS as usize];
    for _ in 0..u32::from(SENDERS) * EACH {
        let WsMessage::Binary(bytes) = client.next_data().await else {
            panic!("expected a numbered binary message");
        };
        let sender = bytes[0];
        let seq = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
        assert_eq!(seq, next[sender as usize], "sender {sender} out of order");
        assert!(
            bytes == numbered(sender, seq),
            "message {sender}/{seq} damaged"
        );
        next[sender as usize] += 1;
    }
}

/// Message `seq` of `sender`: both in its first bytes, then a pattern of its own, in sizes that
/// take every frame-header form (7-bit, 16-bit, 64-bit lengths) and straddle the size above which
/// messages always queue.
fn numbered(sender: u8, seq: u32) -> gateway::reply::Bytes {
    const SIZES: [usize; 7] = [5, 100, 125, 126, 4_000, 16_384, 70_000];
    let size = SIZES[seq as usize % SIZES.len()];
    let mut bytes = vec![sender];
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend((bytes.len()..size).map(|index| (index as u32 ^ seq) as u8 ^ sender));
    gateway::reply::Bytes::from(bytes)
}
