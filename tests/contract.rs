//! The contract (feature `contract`): the app's AsyncAPI document describes every WebSocket
//! endpoint, every gateway event with the schemas of its data and answer, and is served where
//! the app says. The official AsyncAPI parser checks the chat's document in `clients/js`.

#[allow(dead_code)]
#[path = "../examples/chat/main.rs"]
mod chat;
mod common;

use gateway::prelude::*;
use gateway::test::{http, start};
use serde_json::{json, Value};

#[test]
fn the_document_describes_each_event_with_its_data_and_answer() {
    let document = chat::app("test-token").asyncapi("chat", "1.0.0");
    assert_eq!(document["asyncapi"], "3.0.0");
    let channel = &document["channels"]["chat"];
    assert_eq!(channel["address"], "/chat");
    assert_eq!(channel["x-gateway"]["kind"], "gateway");
    assert_eq!(
        channel["x-gateway"]["options"],
        json!(["ping 20s", "max 16 KiB", "resume 2m"])
    );
    let join = &channel["messages"]["join"]["payload"];
    assert_eq!(join["properties"]["event"], json!({"const": "join"}));
    assert_eq!(
        join["properties"]["data"]["required"],
        json!(["room", "name"])
    );
    let answer = &channel["messages"]["join.reply"]["payload"]["properties"];
    assert_eq!(
        answer["data"]["properties"]["members"]["items"],
        json!({"type": "string"})
    );
    let operation = &document["operations"]["chat.join"];
    assert_eq!(operation["action"], "receive");
    assert_eq!(
        operation["messages"][0]["$ref"],
        "#/channels/chat/messages/join"
    );
    assert_eq!(
        operation["reply"]["messages"][0]["$ref"],
        "#/channels/chat/messages/join.reply"
    );
    // `message` answers nothing of its own: no reply.
    assert_eq!(document["operations"]["chat.message"].get("reply"), None);
    // What the gateway declares it sends (`emits(..)`): a `send` operation with its data.
    let sent = &document["operations"]["chat.send.message"];
    assert_eq!(sent["action"], "send");
    assert_eq!(
        sent["messages"][0]["$ref"],
        "#/channels/chat/messages/message.sent"
    );
    let said = &channel["messages"]["message.sent"]["payload"]["properties"]["data"];
    assert_eq!(said["required"], json!(["room", "text"]));
    assert_eq!(
        channel["messages"]["users.sent"]["payload"]["properties"]["data"]["properties"]["count"]
            ["type"],
        "integer"
    );
    assert!(document["info"]["x-close-codes"]["4000"].is_string());
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Shape {
    corners: Vec<Point2>,
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Point2 {
    x: i32,
}

struct Geometry;

#[controller("")]
impl Geometry {
    #[websocket("points")]
    async fn point(&self, #[body] point: Json<Point>) -> Json<Shape> {
        Json(Shape {
            corners: vec![Point2 {
                x: point.0.x + point.0.y,
            }],
        })
    }

    #[websocket("raw")]
    async fn raw(&self, #[body] message: Message) -> Message {
        message
    }
}

#[test]
fn a_websocket_endpoint_is_described_and_shared_types_sit_in_components() {
    let document = App::new()
        .controller(Geometry)
        .asyncapi("geometry", "0.1.0");
    let points = &document["channels"]["points"];
    assert_eq!(points["x-gateway"]["kind"], "websocket");
    assert_eq!(
        points["messages"]["message"]["payload"]["required"],
        json!(["x", "y"])
    );
    let reply = &points["messages"]["message.reply"]["payload"];
    // A type the answer refers to is defined once, where the document's references point.
    assert_eq!(
        reply["properties"]["corners"]["items"]["$ref"],
        "#/components/schemas/Point2"
    );
    assert_eq!(
        document["components"]["schemas"]["Point2"]["required"],
        json!(["x"])
    );
    // Raw messages are anything.
    assert_eq!(
        document["channels"]["raw"]["messages"]["message"]["payload"],
        json!({})
    );
}

#[tokio::test]
async fn the_document_is_served_where_the_app_says() {
    let addr = start(chat::app("test-token")).await;
    let served = http(addr, "GET", "/asyncapi.json", "").await;
    assert_eq!(served.status, 200);
    let document: Value = serde_json::from_str(&served.body).unwrap();
    assert_eq!(
        document,
        chat::app("test-token").asyncapi("gateway chat", "1.0.0")
    );
}
