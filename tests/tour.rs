//! Every route of `examples/tour.rs`, through a real socket.

mod common;
#[allow(dead_code)]
#[path = "../examples/tour.rs"]
mod tour;

use common::raw::{RawClient, OP_CLOSE, OP_PING};
use gateway::test::{http, start, Client};
use gateway::App;
use serde_json::Value;
use std::net::SocketAddr;
use tokio_tungstenite::tungstenite::Message;

async fn tour() -> SocketAddr {
    start(App::new().controller(tour::ExampleController::default())).await
}

#[tokio::test]
async fn websocket_echoes_text_and_utf8_binary() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/websocket").await;
    assert_eq!(client.ask("hi").await, "Echo: hi");
    client.send_binary("héllo".as_bytes()).await;
    assert_eq!(client.recv_text().await, "Echo: héllo");
}

#[tokio::test]
async fn websocket_answers_invalid_utf8_binary_with_an_error_and_stays_open() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/websocket").await;
    client.send_binary(vec![0xff, 0xfe]).await;
    let error = client.recv_json::<Value>().await;
    assert_eq!(error["status"], 400);
    assert!(
        error["error"].as_str().unwrap().contains("UTF-8"),
        "{error}"
    );
    assert_eq!(client.ask("still here").await, "Echo: still here");
}

#[tokio::test]
async fn receive_counts_silently_and_received_reports_the_count() {
    let addr = tour().await;
    let mut receiver = Client::connect(addr, "/example/receive").await;
    for index in 0..5 {
        receiver.send_text(&format!("message {index}")).await;
    }
    receiver.send_binary(vec![1, 2, 3]).await;
    // Messages are handled in order before the close: the first frame back is the Close, so
    // nothing was ever sent, and all six were counted.
    assert!(matches!(receiver.close().await, Message::Close(_)));

    let mut reporter = Client::connect(addr, "/example/received").await;
    assert_eq!(reporter.recv_text().await, "6");
    assert_eq!(reporter.expect_close().await.0, 1000);
}

#[tokio::test]
async fn send_says_hello_world_then_closes_with_1000() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/send").await;
    assert_eq!(client.recv_text().await, "Hello World");
    assert_eq!(client.expect_close().await.0, 1000);
}

#[tokio::test]
async fn close_replies_goodbye_then_closes_normally() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/close").await;
    assert_eq!(client.ask("anything").await, "Echo: anything");
    assert_eq!(client.ask("close").await, "Goodbye");
    assert_eq!(
        client.expect_close().await,
        (1000, "Normal Closure".to_owned())
    );
}

#[tokio::test]
async fn close_long_cuts_the_reason_to_123_bytes_on_a_character_boundary() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/close").await;
    assert_eq!(client.ask("close-long").await, "Goodbye");
    let (code, reason) = client.expect_close().await;
    assert_eq!(code, 4000);
    assert!(reason.len() <= 123, "{} bytes", reason.len());
    assert_eq!(reason, "é".repeat(61));
}

#[tokio::test]
async fn close_bad_reports_the_invalid_code_and_stays_open() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/close").await;
    assert_eq!(client.ask("close-bad").await, "invalid close code");
    assert_eq!(client.ask("still open?").await, "Echo: still open?");
}

#[tokio::test]
async fn ping_closes_a_client_that_stops_answering_with_1011() {
    let addr = tour().await;
    let mut client = RawClient::connect(addr, "/example/ping").await;
    let first = client.read_frame().await;
    assert_eq!(first.opcode, OP_PING);
    // The raw client never answers, so the next frame is the timeout's Close.
    let close = client.read_frame().await;
    assert_eq!(close.opcode, OP_CLOSE);
    assert_eq!(close.close(), (1011, "ping timeout".to_owned()));
}

#[tokio::test]
async fn ping_keeps_a_client_that_answers() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/ping").await;
    // tungstenite answers every Ping; three pings means three intervals survived.
    for _ in 0..3 {
        assert!(matches!(client.next().await, Message::Ping(_)));
    }
    assert_eq!(client.ask("alive").await, "Echo: alive");
}

#[tokio::test]
async fn connect_greets_on_connect_then_echoes() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/connect").await;
    assert_eq!(client.recv_text().await, "Hello World");
    assert_eq!(client.ask("hi").await, "Echo: hi");
}

#[tokio::test]
async fn json_greets_and_answers_malformed_json_with_an_error() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/json").await;
    let reply: serde_json::Value =
        serde_json::from_str(&client.ask(r#"{"name":"Ada"}"#).await).unwrap();
    assert_eq!(reply, serde_json::json!({"greeting": "Hello, Ada"}));

    client.send_text("{not json").await;
    let error = client.recv_json::<Value>().await;
    assert_eq!(error["status"], 400);
    assert!(
        error["error"].as_str().unwrap().starts_with("invalid JSON"),
        "{error}"
    );

    client.send_binary(r#"{"name":"Grace"}"#.as_bytes()).await;
    assert_eq!(
        client.recv_json::<Value>().await["greeting"],
        "Hello, Grace"
    );
}

#[tokio::test]
async fn field_reads_one_json_field_from_binary_utf8() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/field").await;
    client
        .send_binary(r#"{"message":"Hello World"}"#.as_bytes())
        .await;
    assert_eq!(client.recv_text().await, "Echo: Hello World");

    client.send_text(r#"{"other":1}"#).await;
    let error = client.recv_json::<Value>().await;
    assert_eq!(error["status"], 400);
    assert!(
        error["error"].as_str().unwrap().contains("message"),
        "{error}"
    );
}

#[tokio::test]
async fn headers_reads_the_handshake_header_or_falls_back() {
    let addr = tour().await;
    let mut named = Client::connect_with(addr, "/example/headers", &[("x-user", "ada")])
        .await
        .unwrap();
    assert_eq!(named.ask("who?").await, "user: ada");
    let mut anonymous = Client::connect(addr, "/example/headers").await;
    assert_eq!(anonymous.ask("who?").await, "user: anonymous");
}

#[tokio::test]
async fn rooms_binds_path_and_query_parameters() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/rooms/lobby?user=ada%20l").await;
    assert_eq!(client.ask("hi").await, "ada l@lobby: hi");

    let mut no_user = Client::connect(addr, "/example/rooms/lobby").await;
    no_user.send_text("hi").await;
    let error = no_user.recv_json::<Value>().await;
    assert_eq!(error["status"], 400);
    assert!(error["error"].as_str().unwrap().contains("user"), "{error}");
    // The connection stayed open: the next message gets the same answer.
    no_user.send_text("again").await;
    assert_eq!(no_user.recv_json::<Value>().await["status"], 400);
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let addr = tour().await;
    let mut client = Client::connect(addr, "/example/websocket").await;
    assert_eq!(client.ask("small").await, "Echo: small");
    client
        .send_text(&"x".repeat(gateway::app::DEFAULT_MAX_MESSAGE + 1))
        .await;
    assert_eq!(client.expect_close().await.0, 1009);
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let addr = tour().await;
    let mut client = RawClient::connect(addr, "/example/websocket").await;
    client.send_frame(common::raw::OP_TEXT, &[0xff, 0xfe]).await;
    let frame = client.read_frame().await;
    assert_eq!(frame.close().0, 1007);
}

#[tokio::test]
async fn secret_refuses_the_upgrade_without_the_bearer_token() {
    let addr = tour().await;
    assert_eq!(
        Client::connect_with(addr, "/example/secret", &[])
            .await
            .err(),
        Some(403)
    );
    let wrong = [("authorization", "Bearer guess")];
    assert_eq!(
        Client::connect_with(addr, "/example/secret", &wrong)
            .await
            .err(),
        Some(403)
    );

    let right = [("authorization", "Bearer letmein")];
    let mut client = Client::connect_with(addr, "/example/secret", &right)
        .await
        .unwrap();
    assert_eq!(client.ask("psst").await, "Echo: psst");
}

#[tokio::test]
async fn whoami_answers_with_the_user_the_middleware_attached() {
    let addr = tour().await;
    assert_eq!(
        Client::connect_with(addr, "/example/whoami", &[])
            .await
            .err(),
        Some(401)
    );

    let mut client = Client::connect_with(addr, "/example/whoami", &[("x-user", "ada")])
        .await
        .unwrap();
    assert_eq!(client.ask("who am I?").await, "you are ada");
}

#[tokio::test]
async fn events_says_connected_then_streams_every_websocket_message() {
    let addr = tour().await;
    let mut events = gateway::test::SseReader::connect(addr, "/example/events").await;
    let connected = events.next_event().await;
    assert_eq!(
        (connected.event.as_deref(), connected.data.as_str()),
        (Some("connected"), "hello")
    );

    let mut client = Client::connect(addr, "/example/websocket").await;
    assert_eq!(client.ask("first").await, "Echo: first");
    assert_eq!(client.ask("second").await, "Echo: second");
    for expected in ["first", "second"] {
        let echo = events.next_event().await;
        assert_eq!(
            (echo.event.as_deref(), echo.data.as_str()),
            (Some("echo"), expected)
        );
    }
}

#[tokio::test]
async fn events_is_a_get_only_route() {
    let addr = tour().await;
    let response = http(addr, "POST", "/example/events", "").await;
    assert_eq!(response.status, 405, "{response:?}");
}
