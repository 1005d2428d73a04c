//! Running in production: the origin check, connection limits and graceful shutdown.

mod common;

use common::raw::{RawClient, OP_CLOSE};
use common::{Echo, Feed};
use gateway::prelude::*;
use gateway::test::{start, Client, SseReader, WAIT};
use std::time::Duration;
use tokio::sync::oneshot;

#[tokio::test]
async fn a_cross_origin_browser_handshake_is_refused_unless_allowed() {
    let addr = start(App::new().controller(Echo)).await;
    let same = format!("http://{addr}");
    assert!(Client::connect_with(addr, "/echo", &[("origin", &same)])
        .await
        .is_ok());
    assert!(
        Client::connect_with(addr, "/echo", &[]).await.is_ok(),
        "no Origin: not a browser"
    );
    let evil = [("origin", "https://evil.example")];
    assert_eq!(
        Client::connect_with(addr, "/echo", &evil).await.err(),
        Some(403)
    );

    let allowed = App::new()
        .allow_origins(["https://app.example"])
        .controller(Echo);
    let addr = start(allowed).await;
    assert!(
        Client::connect_with(addr, "/echo", &[("origin", "https://app.example")])
            .await
            .is_ok()
    );
    assert_eq!(
        Client::connect_with(addr, "/echo", &evil).await.err(),
        Some(403)
    );

    let addr = start(App::new().allow_any_origin().controller(Echo)).await;
    assert!(Client::connect_with(addr, "/echo", &evil).await.is_ok());
}

#[tokio::test]
async fn a_request_naming_a_host_the_app_does_not_serve_is_refused_even_from_its_own_origin() {
    let app = App::new()
        .allow_hosts(["localhost", "127.0.0.1"])
        .controller(Echo)
        .controller(Feed);
    let addr = start(app).await;
    let own = [
        ("host", "localhost:8080"),
        ("origin", "http://localhost:8080"),
    ];
    assert!(Client::connect_with(addr, "/echo", &own).await.is_ok());
    // DNS rebinding: the attacker's name now resolves here, and its page names itself.
    let rebound = [
        ("host", "evil.example:8080"),
        ("origin", "http://evil.example:8080"),
    ];
    assert_eq!(
        Client::connect_with(addr, "/echo", &rebound).await.err(),
        Some(403)
    );
    assert_eq!(
        SseReader::connect_with(addr, "/feed", &rebound).await.err(),
        Some(403)
    );
}

#[tokio::test]
async fn over_max_connections_the_upgrade_gets_503() {
    let app = App::new().max_connections(2).controller(Echo);
    let hub = app.hub();
    let addr = start(app).await;
    let mut first = Client::connect(addr, "/echo").await;
    let _second = Client::connect(addr, "/echo").await;
    assert_eq!(
        Client::connect_with(addr, "/echo", &[]).await.err(),
        Some(503)
    );
    assert_eq!(first.ask("still served").await, "still served");
    assert_eq!(hub.connection_count(), 2);
}

#[tokio::test]
async fn a_draining_app_refuses_new_upgrades_and_event_streams_with_503() {
    let app = App::new().controller(Echo).controller(Feed);
    let drainer = app.drainer();
    let addr = start(app).await;
    let mut open = Client::connect(addr, "/echo").await;
    drainer.refuse_new_connections();
    assert_eq!(
        Client::connect_with(addr, "/echo", &[]).await.err(),
        Some(503)
    );
    assert_eq!(
        SseReader::connect_with(addr, "/feed", &[]).await.err(),
        Some(503)
    );
    assert_eq!(open.ask("open ones go on").await, "open ones go on");
}

#[tokio::test]
async fn shutdown_sends_what_is_queued_then_1001_and_waits_for_the_clients() {
    let app = App::new().controller(Echo);
    let hub = app.hub();
    let (addr, signal, server) = serve_until_signalled(app).await;

    let mut ada = Client::connect(addr, "/echo").await;
    let mut bob = Client::connect(addr, "/echo").await;
    assert_eq!(ada.ask("ready").await, "ready");
    assert_eq!(bob.ask("ready").await, "ready");
    hub.broadcast("last words");
    signal.send(()).unwrap();

    for client in [&mut ada, &mut bob] {
        assert_eq!(client.recv_text().await, "last words");
        assert_eq!(
            client.expect_close().await,
            (1001, "server shutting down".to_owned())
        );
    }
    // Reading on lets tungstenite answer the Close; the server then returns.
    let (_, _) = tokio::join!(ada.close_reply(), bob.close_reply());
    let drained = drained(server).await;
    assert_eq!(drained, 2);
}

#[tokio::test]
async fn shutdown_ends_event_streams_and_counts_them() {
    // A drain timeout far beyond the test's patience: the server must not wait for it.
    let app = App::new()
        .drain_timeout(WAIT * 3)
        .controller(Echo)
        .controller(Feed);
    let hub = app.hub();
    let (addr, signal, server) = serve_until_signalled(app).await;
    let mut reader = SseReader::connect(addr, "/feed").await;
    let mut client = Client::connect(addr, "/echo").await;
    assert_eq!(client.ask("ready").await, "ready");
    hub.sse("/feed").send("last news");
    signal.send(()).unwrap();

    let events = reader.expect_end().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, "last news");
    assert_eq!(client.expect_close().await.0, 1001);
    client.close_reply().await;
    let drained = drained(server).await;
    assert_eq!(drained, 2, "one WebSocket connection and one event stream");
}

#[tokio::test]
async fn a_client_that_never_answers_is_dropped_at_the_drain_deadline() {
    let app = App::new()
        .drain_timeout(Duration::from_millis(300))
        .close_timeout(Duration::from_millis(300))
        .controller(Echo);
    let (addr, signal, server) = serve_until_signalled(app).await;
    let mut silent = RawClient::connect(addr, "/echo").await;
    signal.send(()).unwrap();
    let close = silent.read_frame().await;
    assert_eq!(close.opcode, OP_CLOSE);
    // No Close goes back; the server still returns, and the connection is gone.
    let drained = drained(server).await;
    assert_eq!(drained, 1);
    assert!(tokio::time::timeout(WAIT, silent.is_disconnected())
        .await
        .unwrap());
}

#[tokio::test]
async fn a_client_that_never_finishes_its_request_is_dropped_after_the_handshake_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = App::new()
        .handshake_timeout(Duration::from_millis(200))
        .controller(Echo);
    let addr = start(app).await;

    // Slowloris: headers trickle in and never end.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        .await
        .unwrap();
    // And one that says nothing at all.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    for stream in [&mut slow, &mut silent] {
        let mut rest = Vec::new();
        let ended = tokio::time::timeout(WAIT, stream.read_to_end(&mut rest)).await;
        assert!(
            ended.is_ok(),
            "the server kept a connection that never sent a whole request"
        );
    }
    // The server goes on serving.
    let mut client = Client::connect(addr, "/echo").await;
    assert_eq!(client.ask("still here").await, "still here");
}

/// Serves `app` on a free port until the returned sender fires; the task ends with how many
/// connections (and event streams) the shutdown drained.
async fn serve_until_signalled(
    app: App,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<usize>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal, shutdown) = oneshot::channel::<()>();
    let server = tokio::spawn(gateway::serve_on_with_shutdown(listener, app, async {
        shutdown.await.ok();
    }));
    (addr, signal, server)
}

/// How many the server drained, once it returned (within [`WAIT`]).
async fn drained(server: tokio::task::JoinHandle<std::io::Result<usize>>) -> usize {
    tokio::time::timeout(WAIT, server)
        .await
        .expect("the server did not return")
        .unwrap()
        .unwrap()
}

#[test]
fn the_routes_table_lists_every_route_with_its_kind_mode_and_options() {
    struct Chat;

    #[gateway("chat", ping = "20s", resume = "2m")]
    impl Chat {}

    let app = App::new()
        .controller(Echo)
        .controller(Feed)
        .gateway(Chat)
        .route("/health", axum::routing::get(|| async { "ok" }));
    let table = app.routes_table();
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|line| {
            line.split("  ")
                .filter(|cell| !cell.is_empty())
                .map(str::trim)
                .collect()
        })
        .collect();
    assert_eq!(lines[0], ["PATH", "KIND", "MODE", "OPTIONS", "HANDLER"]);
    assert_eq!(
        lines[1],
        ["/echo", "websocket", "TwoWay", "-", "Echo::echo"]
    );
    assert_eq!(lines[2], ["/feed", "sse", "-", "-", "Feed::feed"]);
    assert_eq!(
        lines[3],
        ["/chat", "gateway", "TwoWay", "ping 20s, resume 2m", "Chat"]
    );
    assert_eq!(lines[4], ["/health", "http", "-", "-", "-"]);
}
