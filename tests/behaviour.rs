//! Runtime guarantees that hold for every endpoint: ordering, isolation between clients, errors,
//! panics, queued messages and app building.

mod common;

use common::raw::{RawClient, OP_CLOSE, OP_TEXT};
use futures_util::future::join_all;
use gateway::prelude::*;
use gateway::test::{http, start, Client, WAIT};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

struct Behaviour;

#[controller("t")]
impl Behaviour {
    #[websocket("echo")]
    async fn echo(&self, #[body] message: String) -> String {
        message
    }

    #[websocket("panic")]
    async fn panic(&self, #[body] message: String) -> String {
        if message == "panic" {
            panic!("the handler failed");
        }
        message
    }

    #[websocket("double")]
    async fn double(&self, #[body] message: String) -> Result<String, std::num::ParseIntError> {
        let number: i64 = message.parse()?;
        Ok((number * 2).to_string())
    }

    #[websocket("queued")]
    async fn queued(
        &self,
        #[body] message: String,
        conn: Connection,
        closer: CloseWebSocket,
    ) -> String {
        for index in 0..3 {
            conn.send(format!("queued {index}")).unwrap();
        }
        if message == "close" {
            closer.close(4001, "done").unwrap();
        }
        "reply".to_owned()
    }

    #[websocket("id")]
    async fn id(&self, #[body] _message: String, conn: Connection) -> String {
        conn.id().to_string()
    }

    /// No receiver: called as `Behaviour::shout`.
    #[websocket("shout")]
    async fn shout(#[body] message: String) -> String {
        message.to_uppercase()
    }

    #[websocket("bytes")]
    async fn bytes(&self, #[body] payload: Bytes) -> Vec<u8> {
        payload.iter().rev().copied().collect()
    }
}

async fn behaviour() -> std::net::SocketAddr {
    start(App::new().controller(Behaviour)).await
}

#[tokio::test]
async fn replies_keep_the_order_of_1000_pipelined_messages() {
    let addr = behaviour().await;
    let mut client = Client::connect(addr, "/t/echo").await;
    for index in 0..1000 {
        client.send_text(&index.to_string()).await;
    }
    for index in 0..1000 {
        assert_eq!(client.recv_text().await, index.to_string());
    }
}

#[tokio::test]
async fn two_hundred_concurrent_clients_each_get_their_own_replies() {
    let addr = behaviour().await;
    let clients = (0..200).map(|client_index| async move {
        let mut client = Client::connect(addr, "/t/echo").await;
        for message_index in 0..10 {
            let message = format!("client {client_index} message {message_index}");
            assert_eq!(client.ask(&message).await, message);
        }
    });
    join_all(clients).await;
}

#[tokio::test]
async fn a_panicking_handler_closes_its_connection_with_1011_and_the_server_goes_on() {
    let addr = behaviour().await;
    let mut bystander = Client::connect(addr, "/t/panic").await;
    let mut victim = Client::connect(addr, "/t/panic").await;
    assert_eq!(victim.ask("fine").await, "fine");
    victim.send_text("panic").await;
    assert_eq!(
        victim.expect_close().await,
        (1011, "internal error".to_owned())
    );

    assert_eq!(bystander.ask("still served").await, "still served");
    let mut newcomer = Client::connect(addr, "/t/panic").await;
    assert_eq!(newcomer.ask("hello").await, "hello");
}

#[tokio::test]
async fn a_handler_error_is_answered_and_the_connection_stays_open() {
    let addr = behaviour().await;
    let mut client = Client::connect(addr, "/t/double").await;
    assert_eq!(client.ask("21").await, "42");
    client.send_text("twenty").await;
    let error = client.recv_json::<Value>().await;
    assert_eq!(error["status"], 500);
    assert_eq!(error["error"], "invalid digit found in string");
    assert_eq!(client.ask("2").await, "4");
}

#[tokio::test]
async fn queued_messages_go_out_before_the_reply_and_the_close_frame() {
    let addr = behaviour().await;
    let mut client = Client::connect(addr, "/t/queued").await;
    client.send_text("stay").await;
    for expected in ["queued 0", "queued 1", "queued 2", "reply"] {
        assert_eq!(client.recv_text().await, expected);
    }
    client.send_text("close").await;
    for expected in ["queued 0", "queued 1", "queued 2", "reply"] {
        assert_eq!(client.recv_text().await, expected);
    }
    assert_eq!(client.expect_close().await, (4001, "done".to_owned()));
}

#[tokio::test]
async fn every_connection_gets_its_own_id() {
    let addr = behaviour().await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let mut client = Client::connect(addr, "/t/id").await;
        assert!(ids.insert(client.ask("id?").await), "an id was reused");
    }
}

#[tokio::test]
async fn a_handler_without_a_receiver_is_called_on_the_type() {
    let addr = behaviour().await;
    let mut client = Client::connect(addr, "/t/shout").await;
    assert_eq!(client.ask("quiet").await, "QUIET");
}

#[tokio::test]
async fn bytes_in_binary_out() {
    let addr = behaviour().await;
    let mut client = Client::connect(addr, "/t/bytes").await;
    client.send_binary(vec![1, 2, 3]).await;
    match client.next_data().await {
        tokio_tungstenite::tungstenite::Message::Binary(bytes) => {
            assert_eq!(&bytes[..], &[3, 2, 1]);
        }
        other => panic!("expected binary, got {other:?}"),
    }
}

#[tokio::test]
async fn a_plain_http_get_is_refused_without_an_upgrade() {
    let addr = behaviour().await;
    let response = http(addr, "GET", "/t/echo", "").await;
    assert_eq!(response.status, 426, "{response:?}");
}

#[tokio::test]
async fn a_client_that_never_answers_the_close_is_dropped_after_the_close_timeout() {
    let app = App::new()
        .controller(Behaviour)
        .close_timeout(Duration::from_millis(200));
    let addr = start(app).await;
    let mut client = RawClient::connect(addr, "/t/queued").await;
    client.send_frame(OP_TEXT, b"close").await;
    let mut frame = client.read_frame().await;
    while frame.opcode != OP_CLOSE {
        frame = client.read_frame().await;
    }
    assert_eq!(frame.close().0, 4001);
    // No Close goes back; the server must end the TCP connection on its own.
    let ended = tokio::time::timeout(WAIT, client.is_disconnected()).await;
    assert_eq!(ended, Ok(true));
}

struct Other;

#[controller("t")]
impl Other {
    #[websocket("echo")]
    async fn also_echo(&self) {}
}

#[test]
fn two_handlers_on_one_path_fail_the_build_naming_both() {
    let error = App::new()
        .controller(Behaviour)
        .controller(Other)
        .into_router()
        .expect_err("a duplicate path must not build");
    let message = error.to_string();
    assert!(message.contains("/t/echo"), "{message}");
    assert!(message.contains("Behaviour::echo"), "{message}");
    assert!(message.contains("Other::also_echo"), "{message}");
}

#[tokio::test]
async fn an_apps_own_state_holding_framework_values_derives_debug() {
    /// What an app keeps beside its handlers, printed in its logs.
    #[derive(Debug)]
    #[allow(dead_code)] // only printed
    struct State {
        hub: Hub,
        drainer: gateway::app::Drainer,
        client: Option<Connection>,
    }
    let app = App::new().controller(Behaviour);
    let state = State {
        hub: app.hub(),
        drainer: app.drainer(),
        client: None,
    };
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/t/echo").await;
    assert_eq!(client.ask("hi").await, "hi");
    let printed = format!("{state:?}");
    assert!(printed.contains("connections: 1"), "{printed}");
    assert!(printed.contains("Drainer"), "{printed}");
}
