//! Resumable sessions through real sockets and real failures: a proxy that cuts connections
//! mid-stream, clients that vanish, windows that pass, buffers that overflow, guards that change
//! their mind, two connections claiming one session.

mod common;

use common::proxy::Proxy;
use gateway::lifecycle::{Guard, Handshake, Observer, Rejection};
use gateway::prelude::*;
use gateway::resume::{FreshReason, ResumeLimits, Resumed};
use gateway::test::{start, Client, Resume, WAIT};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the gateways' hooks and the observer report, in order.
#[derive(Clone)]
struct Events(mpsc::UnboundedSender<String>);

impl Events {
    fn new() -> (Events, mpsc::UnboundedReceiver<String>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Events(sender), receiver)
    }

    fn say(&self, event: String) {
        self.0.send(event).ok();
    }
}

/// The next event, within [`WAIT`].
async fn next_event(events: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no event came")
        .expect("the app is gone")
}

#[derive(Clone, Debug, PartialEq)]
struct Member(String);

/// A room every client joins on connect; `say` goes to the whole room.
struct Room(Events);

#[gateway("room", resume = "30s")]
impl Room {
    #[on_connect]
    async fn joined(&self, #[query("name")] name: String, conn: Connection) {
        conn.join("room");
        conn.set_presence(&name);
        conn.insert(Member(name.clone()));
        self.0.say(format!("connect {name}"));
    }

    #[on_resume]
    async fn back(&self, Extension(member): Extension<Member>) -> Json<Value> {
        self.0.say(format!("resume {}", member.0));
        Json(json!({"event": "back", "data": member.0}))
    }

    #[subscribe("say")]
    async fn say(&self, #[body] Json(n): Json<u64>, hub: Hub) -> Ack<usize> {
        Ack(hub.room("room").emit("said", &n))
    }

    #[subscribe("whoami")]
    async fn whoami(&self, conn: Connection, Extension(member): Extension<Member>) -> Ack<Value> {
        Ack(json!({
            "id": u64::from(conn.id()),
            "rooms": conn.rooms(),
            "presence": conn.presence(),
            "member": member.0,
        }))
    }

    #[on_disconnect]
    async fn left(&self, Extension(member): Extension<Member>) {
        self.0.say(format!("disconnect {}", member.0));
    }
}

/// Reports resumes as observers see them.
struct SeesResumes(Events);

impl Observer for SeesResumes {
    async fn on_resume(&self, resumed: &Resumed) {
        self.0
            .say(format!("observed resume, {} replayed", resumed.replayed));
    }
}

fn room_app() -> (App, mpsc::UnboundedReceiver<String>) {
    let (events, receiver) = Events::new();
    let app = App::new()
        .gateway(Room(events.clone()))
        .observer(SeesResumes(events));
    (app, receiver)
}

/// Reads `{"event":"said","data":n}` for each `n` of `expected`, in order.
async fn expect_said(client: &mut Client, expected: impl IntoIterator<Item = u64>) {
    for n in expected {
        assert_eq!(
            client.recv_json::<Value>().await,
            json!({"event": "said", "data": n})
        );
    }
}

#[tokio::test]
async fn a_client_cut_mid_stream_resumes_with_everything_it_missed_once_in_order() {
    let (app, mut events) = room_app();
    let addr = start(app).await;
    let proxy = Proxy::start(addr).await;
    let mut ada = Client::connect(proxy.addr(), "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    let before: Value = ada.request("whoami", &()).await.unwrap();
    let mut bob = Client::connect(addr, "/room?name=bob").await;
    assert_eq!(next_event(&mut events).await, "connect bob");

    for n in 1..=50 {
        assert_eq!(bob.request::<usize>("say", &n).await, Ok(2));
    }
    expect_said(&mut ada, 1..=20).await;
    ada.ack().await;
    expect_said(&mut ada, 21..=25).await;
    let session = ada.session().await;
    // The network fails: 26..=50 are somewhere between the server and ada, or already lost.
    proxy.cut();
    // The room goes on without her; what is sent to it now waits for her.
    for n in 51..=80 {
        bob.request::<usize>("say", &n).await.unwrap();
    }

    let (mut ada, answer) = Client::resume(addr, "/room", &session).await;
    assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
    expect_said(&mut ada, 26..=80).await;
    // `#[on_resume]` runs after the missed messages, before anything new.
    assert_eq!(
        ada.recv_json::<Value>().await,
        json!({"event": "back", "data": "ada"})
    );
    bob.request::<usize>("say", &81).await.unwrap();
    expect_said(&mut ada, [81]).await;
    // The same client: its id, room, presence and stored values.
    let after: Value = ada.request("whoami", &()).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(after["rooms"], json!(["room"]));
    assert_eq!(after["presence"], json!("ada"));
    // Nothing twice: a second copy would have come before the answer, and been kept aside.
    ada.expect_no_message(Duration::ZERO).await;

    // `#[on_connect]` ran once for her; the resume is its own hook and observer event.
    let mut seen = vec![next_event(&mut events).await, next_event(&mut events).await];
    seen.sort();
    assert!(seen[0].starts_with("observed resume"), "{seen:?}");
    assert_eq!(seen[1], "resume ada");
}

#[tokio::test]
async fn the_session_ends_for_good_on_a_clean_close_and_cannot_be_resumed_then() {
    let (app, mut events) = room_app();
    let addr = start(app).await;
    let mut ada = Client::connect(addr, "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    let session = ada.session().await;
    ada.close().await;
    assert_eq!(next_event(&mut events).await, "disconnect ada");

    let (mut ada, answer) = Client::resume(addr, "/room?name=ada", &session).await;
    assert_eq!(answer, Resume::Fresh(FreshReason::Unknown));
    // A fresh session: `#[on_connect]` again, a new token.
    assert_eq!(next_event(&mut events).await, "connect ada");
    assert_ne!(ada.session().await.token, session.token);
    assert_eq!(ada.session().await.seq, 0);
}

#[tokio::test]
async fn a_token_the_server_never_issued_gets_a_fresh_session() {
    let (app, _events) = room_app();
    let addr = start(app).await;
    let forged = gateway::test::Session {
        token: "0123456789abcdef0123456789abcdef".to_owned(),
        seq: 0,
    };
    let (_client, answer) = Client::resume(addr, "/room?name=eve", &forged).await;
    assert_eq!(answer, Resume::Fresh(FreshReason::Unknown));
}

#[tokio::test]
async fn a_connection_that_asks_to_resume_must_say_resume_first() {
    let (app, _events) = room_app();
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/room?name=eve&resume").await;
    client.send_json(&json!({"event": "say", "data": 1})).await;
    let (code, reason) = client.expect_close().await;
    assert_eq!(code, 1008);
    assert!(reason.contains("$resume"), "{reason}");
}

/// A room whose sessions are kept briefly.
struct Brief(Events);

#[gateway("brief", resume = "300ms")]
impl Brief {
    #[on_connect]
    async fn joined(&self, conn: Connection) {
        conn.join("brief");
    }

    #[on_disconnect]
    async fn left(&self, conn: Connection) {
        self.0.say(format!("disconnect {}", conn.id()));
    }
}

#[tokio::test]
async fn after_the_window_the_session_has_ended_and_a_resume_is_told_expired() {
    let (events, mut seen) = Events::new();
    let addr = start(App::new().gateway(Brief(events))).await;
    let mut ada = Client::connect(addr, "/brief").await;
    let session = ada.session().await;
    drop(ada);
    // `#[on_disconnect]` runs when the window ends, not when the connection dropped.
    let ended = next_event(&mut seen).await;
    assert!(ended.starts_with("disconnect"), "{ended}");

    let (_ada, answer) = Client::resume(addr, "/brief", &session).await;
    assert_eq!(answer, Resume::Fresh(FreshReason::Expired));
}

#[tokio::test]
async fn a_session_whose_buffer_overflows_while_away_is_lost_and_its_client_told() {
    let (app, mut events) = room_app();
    let app = app.resume_limits(ResumeLimits {
        buffer_messages: 10,
        ..ResumeLimits::default()
    });
    let addr = start(app).await;
    let mut bob = Client::connect(addr, "/room?name=bob").await;
    assert_eq!(next_event(&mut events).await, "connect bob");
    let mut ada = Client::connect(addr, "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    let session = ada.session().await;
    drop(ada);
    // Ada is away; the room hears more than her session keeps. Her session ends then, not
    // when its window would have.
    for n in 1..=20 {
        bob.request::<usize>("say", &n).await.unwrap();
    }
    assert_eq!(next_event(&mut events).await, "disconnect ada");
    let (_ada, answer) = Client::resume(addr, "/room?name=ada", &session).await;
    assert_eq!(answer, Resume::Fresh(FreshReason::Lost));
}

#[tokio::test]
async fn a_client_that_never_acknowledges_costs_a_bounded_buffer_then_resumes_as_lost() {
    let (app, mut events) = room_app();
    let app = app.resume_limits(ResumeLimits {
        buffer_messages: 10,
        ..ResumeLimits::default()
    });
    let addr = start(app).await;
    let mut ada = Client::connect(addr, "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    for n in 1..=20 {
        ada.request::<usize>("say", &n).await.unwrap();
    }
    let session = ada.session().await;
    drop(ada);
    // Lost while live: nothing to park, the session ends at once.
    assert_eq!(next_event(&mut events).await, "disconnect ada");
    let (_ada, answer) = Client::resume(addr, "/room?name=ada", &session).await;
    assert_eq!(answer, Resume::Fresh(FreshReason::Lost));
}

#[tokio::test]
async fn a_client_asking_for_messages_it_already_acknowledged_is_told_lost() {
    let (app, mut events) = room_app();
    let addr = start(app).await;
    let mut ada = Client::connect(addr, "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    for n in 1..=5 {
        ada.request::<usize>("say", &n).await.unwrap();
    }
    expect_said(&mut ada, 1..=5).await;
    ada.ack().await;
    // The server may drop what was acknowledged; wait until it has read the ack.
    ada.request::<usize>("say", &6).await.unwrap();
    let mut session = ada.session().await;
    drop(ada);
    session.seq = 2;
    let (_ada, answer) = Client::resume(addr, "/room?name=ada", &session).await;
    assert_eq!(answer, Resume::Fresh(FreshReason::Lost));
    assert_eq!(next_event(&mut events).await, "disconnect ada");
}

/// Admits `?name=..` unless the name was revoked.
#[derive(Clone, Default)]
struct Revocable(Arc<Mutex<HashSet<String>>>);

impl Guard for Revocable {
    async fn check(&self, handshake: &Handshake) -> Result<(), Rejection> {
        let name = handshake.query("name").unwrap_or_default();
        if self.0.lock().unwrap().contains(&name) {
            return Err(Rejection::forbidden("revoked"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn guards_run_again_on_resume_so_a_revoked_client_cannot_resume() {
    let (app, mut events) = room_app();
    let revoked = Revocable::default();
    let addr = start(app.guard(revoked.clone())).await;
    let mut ada = Client::connect(addr, "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    ada.session().await;
    drop(ada);
    revoked.0.lock().unwrap().insert("ada".to_owned());
    // The upgrade is refused before any token is read: holding the token is not enough.
    let refused = Client::connect_with(addr, "/room?name=ada&resume", &[]).await;
    assert_eq!(refused.err(), Some(403));
}

#[tokio::test]
async fn a_resume_while_the_old_connection_still_looks_alive_takes_the_session_over() {
    let (app, mut events) = room_app();
    let addr = start(app).await;
    let proxy = Proxy::start(addr).await;
    let mut ada = Client::connect(proxy.addr(), "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    let mut bob = Client::connect(addr, "/room?name=bob").await;
    assert_eq!(next_event(&mut events).await, "connect bob");
    for n in 1..=3 {
        bob.request::<usize>("say", &n).await.unwrap();
    }
    expect_said(&mut ada, 1..=3).await;
    let session = ada.session().await;
    // The old path goes silent without failing (a phone between networks): the server
    // cannot tell yet.
    proxy.stall(true);
    bob.request::<usize>("say", &4).await.unwrap();

    let (mut first, answer) = Client::resume(addr, "/room", &session).await;
    assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
    expect_said(&mut first, [4]).await;
    assert_eq!(first.recv_json::<Value>().await["event"], "back");

    // The same token again: the newest connection is the client's, the previous one closes
    // with 4000 and the session goes on, in order, on the new one.
    let session = first.session().await;
    let (mut second, answer) = Client::resume(addr, "/room", &session).await;
    assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
    let (code, _) = first.expect_close().await;
    assert_eq!(code, 4000);
    assert_eq!(second.recv_json::<Value>().await["event"], "back");
    // Nothing twice: each next message is the next one said.
    for n in [5, 6] {
        bob.request::<usize>("say", &n).await.unwrap();
        expect_said(&mut second, [n]).await;
    }
    proxy.stall(false);
}

#[tokio::test]
async fn parked_sessions_are_bounded_app_wide_and_the_oldest_ends_first() {
    let (app, mut events) = room_app();
    let app = app.resume_limits(ResumeLimits {
        parked_sessions: 2,
        ..ResumeLimits::default()
    });
    let addr = start(app).await;
    let mut sessions = Vec::new();
    for name in ["ada", "bob", "cy"] {
        let mut client = Client::connect(addr, &format!("/room?name={name}")).await;
        assert_eq!(next_event(&mut events).await, format!("connect {name}"));
        sessions.push((name, client.session().await));
        drop(client);
    }
    // The third to park pushed the one parked longest out (which one that is depends on
    // when the server noticed each drop); it is told `expired`, the others resume.
    let ended = next_event(&mut events).await;
    let evicted = ended.strip_prefix("disconnect ").expect("a disconnect");
    let mut back = Vec::new();
    for (name, session) in &sessions {
        let (client, answer) = Client::resume(addr, &format!("/room?name={name}"), session).await;
        // Kept: dropping it would park another session.
        back.push(client);
        if *name == evicted {
            assert_eq!(answer, Resume::Fresh(FreshReason::Expired));
        } else {
            assert!(
                matches!(answer, Resume::Resumed { .. }),
                "{name}: {answer:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_thousand_clients_dropped_with_a_hundred_messages_in_flight_each_all_resume_exactly() {
    let (app, _events) = room_app();
    let addr = start(app).await;
    let mut clients = Vec::new();
    for i in 0..1000 {
        let mut client = Client::connect(addr, &format!("/room?name=c{i}")).await;
        client.session().await;
        clients.push(client);
    }
    let mut speaker = Client::connect(addr, "/room?name=speaker").await;
    for n in 1..=100 {
        assert_eq!(speaker.request::<usize>("say", &n).await, Ok(1001));
    }
    // Each client reads a different share of the hundred, then vanishes.
    let mut sessions = Vec::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        let read = (i % 101) as u64;
        expect_said(&mut client, 1..=read).await;
        sessions.push((read, client.session().await));
    }
    let resumed = futures_util::future::join_all(sessions.into_iter().enumerate().map(
        |(i, (read, session))| async move {
            let (mut client, answer) =
                Client::resume(addr, &format!("/room?name=c{i}"), &session).await;
            assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
            expect_said(&mut client, read + 1..=100).await;
            assert_eq!(client.recv_json::<Value>().await["event"], "back");
            client
        },
    ))
    .await;
    // Nothing twice: one more message is the next thing every client reads.
    speaker.request::<usize>("say", &101).await.unwrap();
    for mut client in resumed {
        expect_said(&mut client, [101]).await;
    }
}

#[tokio::test]
async fn a_graceful_shutdown_ends_parked_sessions_at_once() {
    let (app, mut events) = room_app();
    let app = app.drain_timeout(Duration::from_secs(30));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal, shutdown) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway::serve_on_with_shutdown(listener, app, async {
        shutdown.await.ok();
    }));
    let mut ada = Client::connect(addr, "/room?name=ada").await;
    assert_eq!(next_event(&mut events).await, "connect ada");
    ada.session().await;
    drop(ada);
    signal.send(()).unwrap();
    assert_eq!(next_event(&mut events).await, "disconnect ada");
    tokio::time::timeout(WAIT, server)
        .await
        .expect("the server waited for a parked session")
        .unwrap()
        .unwrap();
}

/// Says which client a connection is from (a header), as a middleware behind a proxy would.
struct ClientFromHeader;

impl gateway::lifecycle::Middleware for ClientFromHeader {
    async fn handle(&self, handshake: &mut Handshake) -> Result<(), gateway::lifecycle::Response> {
        if let Some(client) = handshake.header("x-client").map(str::to_owned) {
            handshake.insert_data(gateway::resume::ClientKey::new(client));
        }
        Ok(())
    }
}

/// Opens a session as `client` and drops it without a Close (so it parks).
async fn park_one(addr: std::net::SocketAddr, client: &str, name: &str) -> gateway::test::Session {
    let path = format!("/room?name={name}");
    let mut connection = Client::connect_with(addr, &path, &[("x-client", client)])
        .await
        .unwrap_or_else(|status| panic!("{client} refused with {status}"));
    connection.session().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_sessions_lock_no_one_out_and_a_client_ends_only_its_own() {
    let (app, _events) = room_app();
    let app = app
        .middleware(ClientFromHeader)
        .max_connections(20)
        .resume_limits(ResumeLimits {
            parked_sessions: 50,
            ..ResumeLimits::default()
        });
    let addr = start(app).await;
    let ada = park_one(addr, "ada", "ada").await;
    // One client opens and drops sessions far past both the socket limit and the parked bound.
    for n in 0..300 {
        park_one(addr, "mallory", &format!("m{n}")).await;
    }
    // Parked sessions hold no socket: new clients are still let in...
    let mut bob = Client::connect(addr, "/room?name=bob").await;
    bob.request::<usize>("say", &1).await.unwrap();
    // ...and the parked bound ended mallory's own sessions, not ada's.
    let (_ada, answer) = Client::resume(addr, "/room?name=ada", &ada).await;
    assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_kept_for_many_parked_sessions_counts_once_against_the_budget() {
    const SESSIONS: usize = 100;
    const MESSAGES: usize = 40;
    const SIZE: usize = 16 << 10;
    let (app, _events) = room_app();
    // 640 KiB of messages, kept for a hundred sessions: 64 MiB if each session's share counted.
    let app = app.resume_limits(ResumeLimits {
        kept_bytes: 2 << 20,
        ..ResumeLimits::default()
    });
    let hub = app.hub();
    let addr = start(app).await;
    let mut sessions = Vec::new();
    for n in 0..SESSIONS {
        let mut client = Client::connect(addr, &format!("/room?name=c{n}")).await;
        sessions.push((n, client.session().await));
    }
    // Every one of them away (dropped without a Close), then the room hears 640 KiB.
    let parked = || hub.room("room").count();
    assert_eq!(parked(), SESSIONS);
    for n in 0..MESSAGES {
        hub.room("room").send(vec![n as u8; SIZE]);
    }
    for (n, session) in sessions {
        let (mut client, answer) =
            Client::resume(addr, &format!("/room?name=c{n}"), &session).await;
        assert!(matches!(answer, Resume::Resumed { .. }), "c{n}: {answer:?}");
        for m in 0..MESSAGES {
            assert_eq!(
                client.next_data().await,
                Message::binary(vec![m as u8; SIZE])
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_socket_counts_against_max_connections_event_streams_and_pending_resumes_too() {
    let (app, _events) = room_app();
    let addr = start(app.controller(common::Feed).max_connections(4)).await;
    let streams = [
        gateway::test::SseReader::connect(addr, "/feed").await,
        gateway::test::SseReader::connect(addr, "/feed").await,
    ];
    // Two upgrades that asked to resume and have not said which session yet.
    let pending = [
        common::raw::RawClient::connect(addr, "/room?resume").await,
        common::raw::RawClient::connect(addr, "/room?resume").await,
    ];
    assert_eq!(
        Client::connect_with(addr, "/room?name=x", &[]).await.err(),
        Some(503)
    );
    let refused = gateway::test::SseReader::connect_with(addr, "/feed", &[]).await;
    assert_eq!(refused.err(), Some(503));
    drop(streams);
    drop(pending);
    // Their sockets are given back as they close.
    let deadline = tokio::time::Instant::now() + WAIT;
    while Client::connect_with(addr, "/room?name=x", &[])
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no socket given back"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_of_one_session_at_once_leave_one_holder_and_the_server_serving() {
    let (app, _events) = room_app();
    let addr = start(app).await;
    let mut bob = Client::connect(addr, "/room?name=bob").await;
    for round in 0..10 {
        let mut ada = Client::connect(addr, "/room?name=ada").await;
        let session = ada.session().await;
        drop(ada);
        let attempts = (0..20).map(|_| Client::resume(addr, "/room?name=ada", &session));
        let answered = futures_util::future::join_all(attempts).await;
        let mut resumed: Vec<Client> = answered
            .into_iter()
            .filter(|(_, answer)| matches!(answer, Resume::Resumed { .. }))
            .map(|(client, _)| client)
            .collect();
        assert!(!resumed.is_empty(), "round {round}: none resumed");
        // The server still answers, and one connection holds her session.
        let said = round + 1000;
        let reached = bob.request::<usize>("say", &said).await.unwrap();
        assert!(reached >= 2, "round {round}: said to {reached}");
        let mut holders = 0;
        for client in &mut resumed {
            loop {
                match client.next_data().await {
                    Message::Close(Some(frame)) => break assert_eq!(u16::from(frame.code), 4000),
                    Message::Text(text) if text.contains(&format!(r#""data":{said}"#)) => {
                        holders += 1;
                        break;
                    }
                    _ => {} // what was replayed, `#[on_resume]`'s answer
                }
            }
        }
        assert_eq!(holders, 1, "round {round}");
        expect_said(&mut bob, [said as u64]).await;
    }
}
