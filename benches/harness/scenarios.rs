//! The load each scenario puts on a server, and what it measures.

use crate::server::{process_cpu, Server};
use crate::stats::percentile;
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub(crate) type Ws = WebSocketStream<TcpStream>;

/// A client connection from `source` (spread over 127.0.0.x to pass the ephemeral-port limit).
pub(crate) async fn connect(addr: SocketAddr, path: &str, source: Ipv4Addr) -> std::io::Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    // Ports of earlier runs may still be in TIME_WAIT; they are fine to reuse for new peers.
    socket.set_reuseaddr(true)?;
    socket.bind((source, 0).into())?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}{path}"), stream)
        .await
        .map_err(std::io::Error::other)?;
    Ok(ws)
}

/// Every batch of connections gets source addresses of its own (127.N.x.1), so the TIME_WAIT
/// sockets an earlier batch left behind never collide with a new connection. A run starts where
/// the clock puts it, so back-to-back runs do not reuse each other's addresses either.
static NEXT_SOURCE_NET: std::sync::LazyLock<AtomicU8> = std::sync::LazyLock::new(|| {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    AtomicU8::new(10 + (seconds % 120) as u8)
});

/// `count` connections, `parallel` handshakes at a time; a failed handshake is tried again
/// (twice) before the batch stops.
pub(crate) async fn connect_many(addr: SocketAddr, path: &str, count: usize) -> Vec<Ws> {
    let net = NEXT_SOURCE_NET
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |net| {
            Some(if net >= 250 { 10 } else { net + 1 })
        })
        .unwrap();
    let parallel = 128;
    let mut connections = Vec::with_capacity(count);
    let mut pending = futures_util::stream::iter(0..count)
        .map(|index| async move {
            // 10,000 connections per source address keeps well inside the ephemeral ports.
            let source = Ipv4Addr::new(127, net, (index / 10_000) as u8, 1);
            let mut attempt = connect(addr, path, source).await;
            for _ in 0..2 {
                let Err(error) = &attempt else { break };
                eprintln!("    connection {index} is tried again: {error}");
                attempt = connect(addr, path, source).await;
            }
            attempt
        })
        .buffer_unordered(parallel);
    while let Some(connection) = pending.next().await {
        match connection {
            Ok(ws) => connections.push(ws),
            Err(error) => {
                eprintln!("    connection {} failed: {error}", connections.len());
                break;
            }
        }
    }
    connections
}

pub(crate) struct EchoResult {
    pub round_trips_per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub server_cpu_per_round_trip: Duration,
    /// The generator's CPU use during the window, as a fraction of one core.
    pub generator_load: f64,
}

/// `connections` clients each keep `in_flight` messages of `size` bytes outstanding.
pub(crate) async fn echo(
    server: &Server,
    connections: usize,
    size: usize,
    in_flight: usize,
    window: Duration,
) -> EchoResult {
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let round_trips = Arc::new(AtomicU64::new(0));
    let samples = Arc::new(Mutex::new(Vec::new()));
    let clients = connect_many(server.addr, "/echo", connections).await;
    assert_eq!(
        clients.len(),
        connections,
        "not every echo client connected"
    );
    let payload = vec![b'x'; size];
    let mut tasks = Vec::new();
    for client in clients {
        let (measuring, stop, round_trips, samples) = (
            measuring.clone(),
            stop.clone(),
            round_trips.clone(),
            samples.clone(),
        );
        let payload = payload.clone();
        tasks.push(tokio::spawn(async move {
            let (mut sink, mut stream) = client.split();
            let mut sent_at = VecDeque::with_capacity(in_flight);
            let mut latencies = Vec::new();
            for _ in 0..in_flight {
                sent_at.push_back(Instant::now());
                sink.send(Message::binary(payload.clone())).await.unwrap();
            }
            while let Some(Ok(reply)) = stream.next().await {
                if !matches!(reply, Message::Binary(_)) {
                    continue;
                }
                let started = sent_at.pop_front().unwrap();
                if measuring.load(Ordering::Relaxed) {
                    latencies.push(started.elapsed());
                    round_trips.fetch_add(1, Ordering::Relaxed);
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                sent_at.push_back(Instant::now());
                sink.send(Message::binary(payload.clone())).await.unwrap();
            }
            samples.lock().unwrap().extend(latencies);
            sink.close().await.ok();
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // warm up
    let (server_before, generator_before) = (server.cpu(), process_cpu(std::process::id()));
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(window).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    let (server_cpu, generator_cpu) = (
        server.cpu() - server_before,
        process_cpu(std::process::id()) - generator_before,
    );
    let count = round_trips.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.ok();
    }
    let mut samples = std::mem::take(&mut *samples.lock().unwrap());
    EchoResult {
        round_trips_per_second: count as f64 / elapsed.as_secs_f64(),
        p50: percentile(&mut samples, 0.50),
        p99: percentile(&mut samples, 0.99),
        server_cpu_per_round_trip: server_cpu / count.max(1) as u32,
        generator_load: generator_cpu.as_secs_f64() / elapsed.as_secs_f64(),
    }
}

pub(crate) struct FanoutResult {
    /// Time from publishing a message until every subscriber has it (back to back: from the
    /// first message until every subscriber has the last).
    pub p50: Duration,
    pub p99: Duration,
    pub deliveries_per_second: f64,
    /// The server's CPU time per message delivered to one subscriber.
    pub server_cpu_per_delivery: Duration,
}

/// A route that sends what a client publishes to all its clients.
#[derive(Clone, Copy)]
pub(crate) struct Broadcast {
    pub path: &'static str,
    /// The message that publishes a text.
    pub publish: fn(String) -> String,
}

/// `/broadcast`: every text message goes to every client.
pub(crate) const BROADCAST: Broadcast = Broadcast {
    path: "/broadcast",
    publish: |text| text,
};

/// One publisher on the first server, `subscribers` readers on `/broadcast` spread evenly over
/// `servers` (one server, or the instances of a cluster); each of `messages` 64-byte messages is
/// published once the previous one reached everybody. Server CPU is the sum over the servers.
pub(crate) async fn fanout(
    servers: &[&Server],
    subscribers: usize,
    messages: usize,
) -> FanoutResult {
    fanout_on(servers, BROADCAST, subscribers, messages).await
}

/// [`fanout`] through any broadcasting route.
pub(crate) async fn fanout_on(
    servers: &[&Server],
    route: Broadcast,
    subscribers: usize,
    messages: usize,
) -> FanoutResult {
    fanout_paced(
        servers,
        route,
        subscribers,
        messages,
        Pace::EachAfterTheLast,
    )
    .await
}

/// How a fan-out publishes its messages.
#[derive(Clone, Copy)]
pub(crate) enum Pace {
    /// Each once the previous one reached everybody: the latency of one message to all.
    EachAfterTheLast,
    /// All at once, in one write: the rate of a busy room.
    BackToBack,
}

/// One publisher on the first server, `subscribers` readers of `route` spread evenly over
/// `servers`, `messages` 64-byte messages published at `pace`.
pub(crate) async fn fanout_paced(
    servers: &[&Server],
    route: Broadcast,
    subscribers: usize,
    messages: usize,
    pace: Pace,
) -> FanoutResult {
    let mut clients = Vec::with_capacity(subscribers);
    for server in servers {
        clients.extend(connect_many(server.addr, route.path, subscribers / servers.len()).await);
    }
    assert_eq!(clients.len(), subscribers, "not every subscriber connected");
    let received: Arc<Vec<AtomicUsize>> =
        Arc::new((0..=messages).map(|_| AtomicUsize::new(0)).collect());
    let ready = Arc::new(AtomicUsize::new(0));
    let complete = Arc::new(tokio::sync::Notify::new());
    for client in clients {
        let (received, ready, complete) = (received.clone(), ready.clone(), complete.clone());
        tokio::spawn(async move {
            let (_sink, mut stream) = client.split();
            let mut warmed_up = false;
            while let Some(Ok(Message::Text(text))) = stream.next().await {
                let Some(sequence) = text
                    .strip_prefix("m")
                    .and_then(|rest| rest[..8].parse::<usize>().ok())
                else {
                    if !warmed_up {
                        warmed_up = true;
                        ready.fetch_add(1, Ordering::Relaxed);
                    }
                    continue;
                };
                if received[sequence].fetch_add(1, Ordering::Relaxed) + 1 == subscribers {
                    complete.notify_one();
                }
            }
        });
    }
    let mut publisher = connect(servers[0].addr, route.path, Ipv4Addr::new(127, 0, 9, 1))
        .await
        .unwrap();
    // Every subscriber must be listening before the clock starts (axum subscribes after the 101).
    let warming = Instant::now();
    while ready.load(Ordering::Relaxed) < subscribers {
        assert!(
            warming.elapsed() < Duration::from_secs(60),
            "only {} of {subscribers} subscribers heard the warm-up",
            ready.load(Ordering::Relaxed)
        );
        let warm_up = (route.publish)(format!("{:<64}", "warm up"));
        publisher.send(Message::text(warm_up)).await.unwrap();
        drain_for(&mut publisher, Duration::from_millis(100)).await;
    }
    let (mut sink, mut own_copies) = publisher.split();
    tokio::spawn(async move { while own_copies.next().await.is_some() {} });
    let mut durations = Vec::with_capacity(messages);
    let servers_cpu = || servers.iter().map(|server| server.cpu()).sum::<Duration>();
    let server_before = servers_cpu();
    let numbered =
        |sequence: usize| Message::text((route.publish)(format!("m{sequence:08}{:<55}", "")));
    match pace {
        Pace::EachAfterTheLast => {
            for sequence in 1..=messages {
                let started = Instant::now();
                sink.send(numbered(sequence)).await.unwrap();
                complete.notified().await;
                durations.push(started.elapsed());
            }
        }
        Pace::BackToBack => {
            let started = Instant::now();
            for sequence in 1..=messages {
                sink.feed(numbered(sequence)).await.unwrap();
            }
            sink.flush().await.unwrap();
            // Each subscriber gets the messages in order: the last one reaching everybody
            // means all did.
            while received[messages].load(Ordering::Relaxed) < subscribers {
                tokio::time::timeout(Duration::from_secs(60), complete.notified())
                    .await
                    .expect("every subscriber gets every message of the burst");
            }
            durations.push(started.elapsed());
        }
    }
    let server_cpu = servers_cpu() - server_before;
    let total: Duration = durations.iter().sum();
    FanoutResult {
        server_cpu_per_delivery: server_cpu / (subscribers * messages) as u32,
        p50: percentile(&mut durations, 0.50),
        p99: percentile(&mut durations, 0.99),
        deliveries_per_second: (subscribers * messages) as f64 / total.as_secs_f64(),
    }
}

/// Sends one small text and waits for its echo.
async fn round_trip(ws: &mut Ws) {
    ws.send(Message::text("x")).await.unwrap();
    while let Some(Ok(message)) = ws.next().await {
        if message.is_text() {
            return;
        }
    }
    panic!("the connection ended before its echo");
}

async fn drain_for(ws: &mut Ws, duration: Duration) {
    let deadline = tokio::time::Instant::now() + duration;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, ws.next()).await {}
}

/// Opens `count` idle connections; returns how many opened and the server's RSS growth per
/// connection.
pub(crate) async fn idle(server: &Server, count: usize) -> (usize, f64) {
    // One connection first, used and closed, so the runtime's one-time allocations are in the
    // baseline.
    let mut first = connect(server.addr, "/echo", Ipv4Addr::new(127, 0, 20, 1))
        .await
        .unwrap();
    round_trip(&mut first).await;
    first.close(None).await.unwrap();
    while first.next().await.is_some() {}
    let before = server.rss();
    let mut connections = connect_many(server.addr, "/echo", count).await;
    // One echo on each: every connection is set up on the server and has run its loop.
    for connection in &mut connections {
        round_trip(connection).await;
    }
    let after = server.rss();
    let opened = connections.len();
    drop(connections);
    (
        opened,
        after.saturating_sub(before) as f64 / opened.max(1) as f64,
    )
}

/// New connections per second: `parallel` loops of connect, handshake, drop, for `window`.
pub(crate) async fn handshakes(
    server: &Server,
    parallel: usize,
    window: Duration,
    round: u8,
) -> f64 {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let addr = server.addr;
    let loops: Vec<_> = (0..parallel)
        .map(|index| {
            let (stop, done) = (stop.clone(), done.clone());
            // A fresh source address per loop and round keeps TIME_WAIT sockets from piling up.
            let source = Ipv4Addr::new(127, 200 + round, index as u8, 1);
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if connect(addr, "/echo", source).await.is_ok() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let started = Instant::now();
    tokio::time::sleep(window).await;
    stop.store(true, Ordering::Relaxed);
    let count = done.load(Ordering::Relaxed);
    let elapsed = started.elapsed();
    for task in loops {
        task.await.ok();
    }
    count as f64 / elapsed.as_secs_f64()
}
