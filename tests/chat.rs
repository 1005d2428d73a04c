//! The chat example's wire contract, which outside clients rely on.

#[allow(dead_code)]
#[path = "../examples/chat/main.rs"]
mod chat;
mod common;

use common::chat_wire::{event, join, next_matching, next_said, say};
use gateway::test::{http, http_with, start, Client, Resume};
use serde_json::json;

#[tokio::test]
async fn join_answers_with_the_sorted_members_and_messages_reach_the_others_in_the_room() {
    let addr = start(chat::app("test-token")).await;
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

    say(&mut ada, "hi lobby").await;
    let heard = next_matching(&mut zoe, event("message")).await;
    assert_eq!(
        heard,
        json!({"event": "message", "data": {"from": "ada", "room": "lobby", "text": "hi lobby"}})
    );

    // Bob (another room) and Ada (the sender) hear nothing: the next message either gets is
    // the one sent after it.
    say(&mut zoe, "back").await;
    assert_eq!(next_said(&mut ada).await, "back");
    say(&mut bob, "anyone?").await;
    join(&mut ada, "garden", "ada", 4).await; // one room at a time: ada leaves the lobby
    say(&mut bob, "hello ada").await;
    assert_eq!(next_said(&mut ada).await, "hello ada");
    say(&mut zoe, "still here?").await;
    say(&mut bob, "after zoe").await;
    assert_eq!(next_said(&mut ada).await, "after zoe");
    // Bob heard none of the lobby's messages: the first he hears is ada's, in the garden.
    say(&mut ada, "hi bob").await;
    assert_eq!(next_said(&mut bob).await, "hi bob");
}

#[tokio::test]
async fn a_message_before_joining_gets_an_error_and_leave_stops_messages() {
    let addr = start(chat::app("test-token")).await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;
    say(&mut ada, "too early").await;
    let error = next_matching(&mut ada, |message| message.get("error").is_some()).await;
    assert_eq!(error["status"], 400);

    join(&mut ada, "lobby", "ada", 1).await;
    join(&mut bob, "lobby", "bob", 2).await;
    bob.send_text(r#"{"event":"leave"}"#).await;
    // Bob's leave is answered with a user count to everyone, bob included.
    next_matching(&mut bob, event("users")).await;
    say(&mut ada, "gone?").await;
    // Ada's messages are handled in order: once bob hears the one sent from a room they share,
    // anything bob could have heard from the lobby would have come first.
    join(&mut bob, "other", "bob", 3).await;
    join(&mut ada, "other", "ada", 4).await;
    say(&mut ada, "marker").await;
    assert_eq!(next_said(&mut bob).await, "marker");
}

#[tokio::test]
async fn joins_leaves_and_disconnects_tell_everyone_the_user_count() {
    let addr = start(chat::app("test-token")).await;
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
    bob.close().await;
    assert_eq!(
        next_matching(&mut ada, event("users")).await["data"]["count"],
        1
    );
}

#[tokio::test]
async fn post_announce_reaches_every_client() {
    let addr = start(chat::app("test-token")).await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;
    join(&mut ada, "lobby", "ada", 1).await; // ada's handshake is surely done
    join(&mut bob, "garden", "bob", 2).await;
    let token = [("authorization", "Bearer test-token")];
    let announce = |headers, body| http_with(addr, "POST", "/announce", headers, body);
    assert_eq!(announce(&[], "anyone may speak?").await.status, 401);
    let wrong = [("authorization", "Bearer guess")];
    assert_eq!(announce(&wrong, "anyone may speak?").await.status, 401);
    let huge = "x".repeat(4097);
    assert_eq!(announce(&token, &huge).await.status, 413);
    assert_eq!(announce(&token, "maintenance at noon").await.status, 202);
    // The first announcement each hears is the one that was allowed.
    for client in [&mut ada, &mut bob] {
        let heard = next_matching(client, event("announce")).await;
        assert_eq!(
            heard,
            json!({"event": "announce", "data": "maintenance at noon"})
        );
    }
}

#[tokio::test]
async fn clients_coming_and_going_by_the_hundred_cost_a_parked_member_nothing() {
    let addr = start(chat::app("test-token")).await;
    let mut ada = Client::connect(addr, "/chat").await;
    join(&mut ada, "lobby", "ada", 1).await;
    let session = ada.session().await;
    drop(ada);
    // Each one used to tell everyone the user count, the parked ada too, until her buffer
    // (1,024 messages) overflowed and she was lost.
    for _ in 0..1_100 {
        let mut passer = Client::connect(addr, "/chat").await;
        join(&mut passer, "lobby", "passer", 1).await;
        passer.close().await;
    }
    let (mut ada, answer) = Client::resume(addr, "/chat", &session).await;
    assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
    // Still in the lobby: the next message there reaches her, after a few user counts.
    let mut bob = Client::connect(addr, "/chat").await;
    join(&mut bob, "lobby", "bob", 1).await;
    say(&mut bob, "hello").await;
    let mut counts = 0;
    loop {
        let heard: serde_json::Value = ada.recv_json().await;
        match heard["event"].as_str() {
            Some("users") => counts += 1,
            Some("message") => break assert_eq!(heard["data"]["text"], "hello"),
            _ => panic!("{heard}"),
        }
    }
    assert!(
        counts < 60,
        "{counts} user counts for 1,100 comings and goings"
    );
}

#[tokio::test]
async fn the_page_is_served_at_the_root_with_the_client_it_imports() {
    let addr = start(chat::app("test-token")).await;
    let response = http(addr, "GET", "/", "").await;
    assert_eq!(response.status, 200, "{response:?}");
    assert!(response
        .body
        .contains(r#"import { GatewayClient } from "/_gateway/index.js";"#));
    // The module and the siblings it imports, as a browser fetches them.
    let client = http(addr, "GET", "/_gateway/index.js", "").await;
    assert_eq!(client.status, 200);
    assert_eq!(
        client
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok()),
        Some("text/javascript; charset=utf-8")
    );
    for sibling in ["./socket.js", "./gateway.js"] {
        assert!(client.body.contains(sibling), "{}", client.body);
        let path = format!("/_gateway/{}", &sibling[2..]);
        assert_eq!(http(addr, "GET", &path, "").await.status, 200, "{path}");
    }
    // Browsers ask each time whether it changed, and a server with a new client says so.
    let header = |name| {
        client
            .headers
            .get(name)
            .and_then(|value| value.to_str().ok())
    };
    assert_eq!(header("cache-control"), Some("no-cache"));
    let version = header("etag").expect("a version").to_owned();
    // As browsers and proxies ask: the tag itself, weak, in a list, or any version at all.
    let weak = format!("W/{version}");
    let listed = format!("\"an older client\", {weak}");
    for asked in [version.as_str(), &weak, &listed, "*"] {
        let asked = [("if-none-match", asked)];
        let again = http_with(addr, "GET", "/_gateway/index.js", &asked, "").await;
        assert_eq!((again.status, again.body.as_str()), (304, ""), "{asked:?}");
    }
    let stale = [("if-none-match", "\"an older client\"")];
    assert_eq!(
        http_with(addr, "GET", "/_gateway/index.js", &stale, "")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn names_and_rooms_are_capped_and_a_join_lists_at_most_100_members() {
    let addr = start(chat::app("test-token")).await;
    let mut greedy = Client::connect(addr, "/chat").await;
    for (room, name) in [
        ("lobby".to_owned(), "x".repeat(16_000)),
        ("r".repeat(65), "ada".to_owned()),
    ] {
        let request = json!({"event": "join", "data": {"room": room, "name": name}, "id": 1});
        greedy.send_text(&request.to_string()).await;
        let refused = next_matching(&mut greedy, |message| message["status"] == 400).await;
        assert!(
            refused["error"].as_str().unwrap().contains("1 to"),
            "{refused}"
        );
    }

    let mut members = Vec::new();
    for index in 0..101 {
        let mut member = Client::connect(addr, "/chat").await;
        join(&mut member, "crowd", &format!("member-{index:03}"), 1).await;
        members.push(member);
    }
    let listed = join(&mut greedy, "crowd", "ada", 2).await["data"]["members"].clone();
    assert_eq!(listed.as_array().unwrap().len(), 100, "{listed}");
}

#[tokio::test]
async fn a_member_whose_connection_drops_comes_back_in_its_room_with_what_it_missed() {
    let addr = start(chat::app("test-token")).await;
    let mut ada = Client::connect(addr, "/chat").await;
    let mut bob = Client::connect(addr, "/chat").await;
    join(&mut ada, "lobby", "ada", 1).await;
    join(&mut bob, "lobby", "bob", 2).await;
    say(&mut bob, "before").await;
    assert_eq!(next_said(&mut ada).await, "before");
    let session = ada.session().await;
    drop(ada);
    say(&mut bob, "while you were away").await;

    let (mut ada, answer) = Client::resume(addr, "/chat", &session).await;
    assert!(matches!(answer, Resume::Resumed { .. }), "{answer:?}");
    assert_eq!(next_said(&mut ada).await, "while you were away");
    say(&mut bob, "welcome back").await;
    assert_eq!(next_said(&mut ada).await, "welcome back");
    // Still in the lobby under her name, without joining again.
    say(&mut ada, "thanks").await;
    let heard = next_matching(&mut bob, event("message")).await;
    assert_eq!(
        heard["data"],
        json!({"from": "ada", "room": "lobby", "text": "thanks"})
    );
}
