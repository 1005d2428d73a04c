//! The chat example's wire contract, which outside clients rely on.

#[allow(dead_code)]
#[path = "../examples/chat/main.rs"]
mod chat;
mod common;

use common::chat_wire::{event, join, next_matching};
use gateway::test::{start, Client};
use serde_json::json;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn join_answers_with_the_sorted_members_and_messages_reach_the_others_in_the_room() {
    let addr = start(chat::app()).await;
    let mut zoe = Client::connect(addr, "/chat").await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;

    assert_eq!(
        join(&mut zoe, "lobby", "zoe", 1).await,
        json!({"ack": 1, "data": {"members": ["zoe"]}})
    );
    assert_eq!(
        join(&mut ada, "lobby", "ada", 2).await["data"]["members"],
        json!(["ada", "zoe"])
    );
    assert_eq!(
        join(&mut bob, "garden", "bob", 3).await["data"]["members"],
        json!(["bob"])
    );

    ada.send_text(r#"{"event":"message","data":{"text":"hi lobby"}}"#)
        .await;
    let heard = next_matching(&mut zoe, event("message")).await;
    assert_eq!(
        heard,
        json!({"event": "message", "data": {"from": "ada", "room": "lobby", "text": "hi lobby"}})
    );

    // Bob (another room) and Ada (the sender) hear nothing: the next message either gets is
    // the one sent after it.
    zoe.send_text(r#"{"event":"message","data":{"text":"back"}}"#)
        .await;
    assert_eq!(
        next_matching(&mut ada, event("message")).await["data"]["text"],
        "back"
    );
    bob.send_text(r#"{"event":"message","data":{"text":"anyone?"}}"#)
        .await;
    join(&mut ada, "garden", "ada", 4).await; // one room at a time: ada leaves the lobby
    bob.send_text(r#"{"event":"message","data":{"text":"hello ada"}}"#)
        .await;
    assert_eq!(
        next_matching(&mut ada, event("message")).await["data"]["text"],
        "hello ada"
    );
    zoe.send_text(r#"{"event":"message","data":{"text":"still here?"}}"#)
        .await;
    bob.send_text(r#"{"event":"message","data":{"text":"after zoe"}}"#)
        .await;
    assert_eq!(
        next_matching(&mut ada, event("message")).await["data"]["text"],
        "after zoe"
    );
    // Bob heard none of the lobby's messages: the first he hears is ada's, in the garden.
    ada.send_text(r#"{"event":"message","data":{"text":"hi bob"}}"#)
        .await;
    assert_eq!(
        next_matching(&mut bob, event("message")).await["data"]["text"],
        "hi bob"
    );
}

#[tokio::test]
async fn a_message_before_joining_gets_an_error_and_leave_stops_messages() {
    let addr = start(chat::app()).await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;
    ada.send_text(r#"{"event":"message","data":{"text":"too early"}}"#)
        .await;
    let error = next_matching(&mut ada, |message| message.get("error").is_some()).await;
    assert_eq!(error["status"], 400);

    join(&mut ada, "lobby", "ada", 1).await;
    join(&mut bob, "lobby", "bob", 2).await;
    bob.send_text(r#"{"event":"leave"}"#).await;
    // Bob's leave is answered with a user count to everyone, bob included.
    next_matching(&mut bob, event("users")).await;
    ada.send_text(r#"{"event":"message","data":{"text":"gone?"}}"#)
        .await;
    // Ada's messages are handled in order: once bob hears the one sent from a room they share,
    // anything bob could have heard from the lobby would have come first.
    join(&mut bob, "other", "bob", 3).await;
    join(&mut ada, "other", "ada", 4).await;
    ada.send_text(r#"{"event":"message","data":{"text":"marker"}}"#)
        .await;
    assert_eq!(
        next_matching(&mut bob, event("message")).await["data"]["text"],
        "marker"
    );
}

#[tokio::test]
async fn every_join_leave_and_disconnect_tells_everyone_the_user_count() {
    let addr = start(chat::app()).await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;
    join(&mut ada, "lobby", "ada", 1).await;
    assert_eq!(
        next_matching(&mut bob, event("users")).await["data"]["count"],
        2
    );
    bob.send_text(r#"{"event":"leave"}"#).await;
    assert_eq!(
        next_matching(&mut ada, event("users")).await["data"]["count"],
        2
    );
    drop(bob);
    assert_eq!(
        next_matching(&mut ada, event("users")).await["data"]["count"],
        1
    );
}

/// `POST path` with a text body; returns the status code.
async fn post(addr: SocketAddr, path: &str, body: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response[9..12].parse().unwrap()
}

#[tokio::test]
async fn post_announce_reaches_every_client() {
    let addr = start(chat::app()).await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;
    join(&mut ada, "lobby", "ada", 1).await; // ada's handshake is surely done
    join(&mut bob, "garden", "bob", 2).await;
    assert_eq!(post(addr, "/announce", "maintenance at noon").await, 202);
    for client in [&mut ada, &mut bob] {
        let heard = next_matching(client, event("announce")).await;
        assert_eq!(
            heard,
            json!({"event": "announce", "data": "maintenance at noon"})
        );
    }
}

#[tokio::test]
async fn the_page_is_served_at_the_root() {
    let addr = start(chat::app()).await;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("new WebSocket(`ws://${location.host}/chat`)"));
}
