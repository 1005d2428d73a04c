//! Speaking the chat example's wire format from a test client.

use gateway::test::Client;
use serde_json::{json, Value};

/// Reads messages until one matches `wanted`, skipping user counts and the like.
pub(crate) async fn next_matching(client: &mut Client, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = client.recv_json::<Value>().await;
        if wanted(&message) {
            return message;
        }
    }
}

/// Matches messages of one event.
pub(crate) fn event(name: &'static str) -> impl Fn(&Value) -> bool {
    move |message| message["event"] == name
}

/// Joins `room` as `name` with request id `id`; returns the ack.
pub(crate) async fn join(client: &mut Client, room: &str, name: &str, id: u64) -> Value {
    let request = json!({"event": "join", "data": {"room": room, "name": name}, "id": id});
    client.send_text(&request.to_string()).await;
    next_matching(client, |message| message["ack"] == id).await
}

/// Says `text` in the sender's room.
pub(crate) async fn say(client: &mut Client, text: &str) {
    client
        .send_json(&json!({"event": "message", "data": {"text": text}}))
        .await;
}

/// The text of the next chat message `client` hears (user counts and the like skipped).
pub(crate) async fn next_said(client: &mut Client) -> Value {
    next_matching(client, event("message")).await["data"]["text"].clone()
}
