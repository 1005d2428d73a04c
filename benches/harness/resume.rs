//! The cost of resumable sessions, on the gateway alone (plain axum has none): the same gateway
//! without (`/feed`) and with `resume` (`/resumable`), each figure on a fresh server.

use crate::scenarios::{self, connect, connect_many, Broadcast, Ws};
use crate::server::{Server, SERVERS};
use crate::stats::{median, micros, percentile};
use futures_util::{SinkExt, StreamExt};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

const FEED: Broadcast = Broadcast {
    path: "/feed",
    publish,
};
const RESUMABLE: Broadcast = Broadcast {
    path: "/resumable",
    publish,
};

fn publish(text: String) -> String {
    serde_json::json!({"event": "publish", "data": text}).to_string()
}

/// Runs every resume figure `rounds` times on fresh gateway servers and prints the medians.
pub(crate) fn resume(runtime: &tokio::runtime::Runtime, rounds: usize) {
    const IDLE: usize = 10_000;
    const PARKED: usize = 5_000;
    const RECONNECTS: usize = 200;
    const FANOUT: (usize, usize) = (10_000, 20);
    let gateway = SERVERS[0];
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |name: &str, value: f64| match rows.iter_mut().find(|row| row.0 == name) {
        Some(row) => row.1.push(value),
        None => rows.push((name.to_owned(), vec![value])),
    };
    for _ in 0..rounds {
        let mut live = 0.0;
        for (name, route) in [("off", FEED), ("on", RESUMABLE)] {
            let server = Server::start(gateway);
            live = runtime.block_on(idle(&server, route.path, IDLE));
            record(
                &format!("idle {IDLE}, resume {name}: KiB RSS per connection"),
                live / 1024.0,
            );
        }
        for buffered in [0, 100] {
            let server = Server::start(gateway);
            let kib = runtime.block_on(parked(&server, PARKED, buffered, live)) / 1024.0;
            record(
                &format!("{PARKED} parked sessions, {buffered} messages each: KiB per session"),
                kib,
            );
        }
        let server = Server::start(gateway);
        let (fresh, resumed) = runtime.block_on(reconnects(&server, &server, RECONNECTS));
        drop(server);
        record("fresh connection to $session, p50 µs", fresh.0);
        record("fresh connection to $session, p99 µs", fresh.1);
        record("reconnect to first replayed message, p50 µs", resumed.0);
        record("reconnect to first replayed message, p99 µs", resumed.1);
        for (name, route) in [("off", FEED), ("on", RESUMABLE)] {
            let server = Server::start(gateway);
            let (subscribers, messages) = FANOUT;
            let result = runtime.block_on(scenarios::fanout_on(
                &[&server],
                route,
                subscribers,
                messages,
            ));
            record(
                &format!("fan-out to {subscribers}, resume {name}: server CPU µs/delivery"),
                micros(result.server_cpu_per_delivery),
            );
        }
    }
    print_medians("resumable sessions (gateway)", rows);
}

fn print_medians(title: &str, rows: Vec<(String, Vec<f64>)>) {
    println!("\n{title:<72} {:>12}", "median");
    for (name, values) in rows {
        println!("{name:<72} {:>12.2}", median(values));
    }
}

/// The same across two instances sharing the Redis at `redis_url` (whose process is
/// `redis_pid`): fan-out with resume off and on (server and Redis CPU), and a session that
/// moves from one instance to the other.
pub(crate) fn across(
    runtime: &tokio::runtime::Runtime,
    rounds: usize,
    redis_url: &str,
    redis_pid: u32,
) {
    const FANOUT: (usize, usize) = (10_000, 20);
    const RECONNECTS: usize = 200;
    let gateway = SERVERS[0];
    let env = [("REDIS_URL", redis_url)];
    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let mut record = |name: String, value: f64| match rows.iter_mut().find(|row| row.0 == name) {
        Some(row) => row.1.push(value),
        None => rows.push((name, vec![value])),
    };
    let redis_cpu = || crate::server::process_cpu(redis_pid);
    for _ in 0..rounds {
        for (name, route) in [("off", FEED), ("on", RESUMABLE)] {
            let (a, b) = (
                Server::start_with_env(gateway, &env),
                Server::start_with_env(gateway, &env),
            );
            let (subscribers, messages) = FANOUT;
            let redis_before = redis_cpu();
            let result = runtime.block_on(scenarios::fanout_on(
                &[&a, &b],
                route,
                subscribers,
                messages,
            ));
            let deliveries = (subscribers * messages) as u32;
            record(
                format!("A+B fan-out to {subscribers}, resume {name}: servers' CPU µs/delivery"),
                micros(result.server_cpu_per_delivery),
            );
            record(
                format!("A+B fan-out to {subscribers}, resume {name}: Redis CPU µs/delivery"),
                micros((redis_cpu() - redis_before) / deliveries),
            );
            record(
                format!("A+B fan-out to {subscribers}, resume {name}: all delivered p50 ms"),
                result.p50.as_secs_f64() * 1e3,
            );
        }
        let (a, b) = (
            Server::start_with_env(gateway, &env),
            Server::start_with_env(gateway, &env),
        );
        let (fresh, resumed) = runtime.block_on(reconnects(&a, &b, RECONNECTS));
        record(
            "A: fresh connection to $session, p50 µs".to_owned(),
            fresh.0,
        );
        record(
            "resumed on B after A: reconnect to first replayed message, p50 µs".to_owned(),
            resumed.0,
        );
        record(
            "resumed on B after A: reconnect to first replayed message, p99 µs".to_owned(),
            resumed.1,
        );
    }
    print_medians("resumable sessions across two instances (Redis)", rows);
}

/// Reads until a text message that `wanted` accepts.
async fn read_until(ws: &mut Ws, wanted: impl Fn(&str) -> bool) -> String {
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Text(text) = message {
            if wanted(&text) {
                return text.to_string();
            }
        }
    }
    panic!("the connection ended");
}

/// The session's token, from its first message.
async fn token(ws: &mut Ws) -> String {
    let session = read_until(ws, |text| text.contains("\"$session\"")).await;
    let session: serde_json::Value = serde_json::from_str(&session).unwrap();
    session["data"]["token"].as_str().unwrap().to_owned()
}

/// One message that the gateway answers (an error: `x` is no event), so the connection has run
/// its loop.
async fn round_trip(ws: &mut Ws) {
    ws.send(Message::text("x")).await.unwrap();
    read_until(ws, |text| text.starts_with("{\"error\"")).await;
}

/// Acknowledges messages up to `seq`, as a client does, and waits until the server has read it
/// (the answer to a Ping sent after it).
async fn acknowledge(ws: &mut Ws, seq: u64) {
    let ack = serde_json::json!({"event": "$ack", "data": seq});
    ws.send(Message::text(ack.to_string())).await.unwrap();
    ws.send(Message::Ping(Default::default())).await.unwrap();
    while let Some(Ok(message)) = ws.next().await {
        if let Message::Pong(_) = message {
            return;
        }
    }
    panic!("the connection ended");
}

async fn close_cleanly(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    ws.close(Some(frame)).await.ok();
    while ws.next().await.is_some() {}
}

/// The server's RSS growth per idle connection on `path`.
async fn idle(server: &Server, path: &str, count: usize) -> f64 {
    let mut first = connect(server.addr, path, Ipv4Addr::new(127, 0, 21, 1))
        .await
        .unwrap();
    round_trip(&mut first).await;
    close_cleanly(first).await;
    let before = server.rss();
    let mut connections = connect_many(server.addr, path, count).await;
    for connection in &mut connections {
        round_trip(connection).await;
        if path == RESUMABLE.path {
            acknowledge(connection, 1).await;
        }
    }
    let grown = server.rss().saturating_sub(before);
    let opened = connections.len();
    for connection in connections {
        close_cleanly(connection).await;
    }
    grown as f64 / opened.max(1) as f64
}

/// The server's memory per parked session holding `buffered` messages sent while away: the
/// RSS growth for `count` sessions that parked and `count` live ones opened after them, less
/// `live` (the idle figure) for the live ones. (The live ones reuse what the parked ones
/// freed, their sockets; RSS alone would count that memory as kept.)
async fn parked(server: &Server, count: usize, buffered: usize, live: f64) -> f64 {
    let mut publisher = connect(server.addr, "/resumable", Ipv4Addr::new(127, 0, 22, 1))
        .await
        .unwrap();
    round_trip(&mut publisher).await;
    let before = server.rss();
    let mut connections = connect_many(server.addr, "/resumable", count).await;
    for connection in &mut connections {
        round_trip(connection).await;
        acknowledge(connection, 1).await;
    }
    let parked = connections.len();
    // Gone without a Close: every session parks.
    drop(connections);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for index in 0..buffered {
        let text = publish(format!("{index:<64}"));
        publisher.send(Message::text(text)).await.unwrap();
    }
    // Its own copy of the last one: every parked session has been sent the others.
    let last = format!("{:<64}", buffered.saturating_sub(1));
    if buffered > 0 {
        read_until(&mut publisher, |text| text == last).await;
    }
    let mut live_ones = connect_many(server.addr, "/resumable", count).await;
    for connection in &mut live_ones {
        round_trip(connection).await;
        acknowledge(connection, 1).await;
    }
    let grown = server.rss().saturating_sub(before) as f64;
    grown / parked.max(1) as f64 - live
}

/// p50 and p99 in µs: from a fresh connection's TCP connect (to `first`) to its `$session`,
/// and from a reconnect's TCP connect (to `second`) to the first message it missed.
async fn reconnects(first: &Server, second: &Server, count: usize) -> ((f64, f64), (f64, f64)) {
    let mut fresh = Vec::with_capacity(count);
    let mut sessions = Vec::with_capacity(count);
    for index in 0..count {
        let source = Ipv4Addr::new(127, 0, 23, (index % 250) as u8 + 1);
        let started = Instant::now();
        let mut ws = connect(first.addr, "/resumable", source).await.unwrap();
        let token = token(&mut ws).await;
        fresh.push(started.elapsed());
        sessions.push((ws, token));
    }
    // One message reaches every session's socket, unread; then every client vanishes.
    let mut publisher = connect(first.addr, "/resumable", Ipv4Addr::new(127, 0, 24, 1))
        .await
        .unwrap();
    publisher
        .send(Message::text(publish("missed".to_owned())))
        .await
        .unwrap();
    read_until(&mut publisher, |text| text == "missed").await;
    let tokens: Vec<String> = sessions.into_iter().map(|(_, token)| token).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut resumed = Vec::with_capacity(count);
    for (index, token) in tokens.iter().enumerate() {
        let source = Ipv4Addr::new(127, 0, 25, (index % 250) as u8 + 1);
        let started = Instant::now();
        let mut ws = connect(second.addr, "/resumable?resume", source)
            .await
            .unwrap();
        let request = serde_json::json!({"event": "$resume", "data": {"token": token, "seq": 0}});
        ws.send(Message::text(request.to_string())).await.unwrap();
        read_until(&mut ws, |text| text == "missed").await;
        resumed.push(started.elapsed());
    }
    let micros_at = |samples: &mut Vec<Duration>, fraction| micros(percentile(samples, fraction));
    (
        (micros_at(&mut fresh, 0.5), micros_at(&mut fresh, 0.99)),
        (micros_at(&mut resumed, 0.5), micros_at(&mut resumed, 0.99)),
    )
}
