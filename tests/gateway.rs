//! The gateway style: event routing, acknowledgements, streams, hooks, and its own port.

mod common;

use gateway::app::BuildError;
use gateway::prelude::*;
use gateway::test::{start, Client, RequestError, WAIT};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

#[derive(Deserialize)]
struct Sum {
    a: i64,
    b: i64,
}

#[derive(Serialize)]
struct Total {
    total: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Color {
    Red,
    Green,
}

/// Reports its hooks to the test.
struct Calculator {
    events: mpsc::UnboundedSender<String>,
}

#[gateway("calc")]
impl Calculator {
    #[on_connect]
    async fn connected(&self, conn: Connection) -> String {
        self.events.send(format!("connect {}", conn.id())).ok();
        "welcome".to_owned()
    }

    #[on_disconnect]
    async fn disconnected(&self, conn: Connection, summary: CloseSummary) {
        let event = format!("disconnect {} {:?}", conn.id(), summary.code);
        self.events.send(event).ok();
    }

    #[on_error]
    async fn failed(&self, error: &WsError) {
        self.events.send(format!("error {}", error.message())).ok();
    }

    #[subscribe("sum")]
    async fn sum(&self, #[body] numbers: Json<Sum>) -> Json<Total> {
        Json(Total {
            total: numbers.a + numbers.b,
        })
    }

    #[subscribe("shout")]
    async fn shout(&self, #[body] text: String) -> String {
        text.to_uppercase()
    }

    #[subscribe("count")]
    async fn count(
        &self,
        #[body("to")] to: u32,
    ) -> Each<impl gateway::reply::Stream<Item = Ack<u32>> + Send + 'static> {
        Each(futures_util::stream::iter((1..=to).map(Ack)))
    }

    #[subscribe("quiet")]
    async fn quiet(&self) {}

    #[subscribe("pick")]
    async fn pick(&self, #[body] Json(color): Json<Color>) -> Ack<Color> {
        Ack(color)
    }

    #[subscribe("halve")]
    async fn halve(&self, #[body] Json(number): Json<i64>) -> Result<Ack<i64>, WsError> {
        if number % 2 == 0 {
            Ok(Ack(number / 2))
        } else {
            Err(WsError::new(409, format!("{number} is odd")))
        }
    }

    /// Counts down, and fails at zero.
    #[subscribe("countdown")]
    async fn countdown(
        &self,
        #[body] Json(from): Json<u32>,
    ) -> Each<impl gateway::reply::Stream<Item = Result<Ack<u32>, WsError>> + Send + 'static> {
        Each(futures_util::stream::iter((0..=from).rev().map(
            |n| match n {
                0 => Err(WsError::new(410, "liftoff")),
                n => Ok(Ack(n)),
            },
        )))
    }
}

async fn calculator() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<String>) {
    let (events, receiver) = mpsc::unbounded_channel();
    (
        start(App::new().gateway(Calculator { events })).await,
        receiver,
    )
}

/// A client of `/calc` past its welcome (the `#[on_connect]` answer).
async fn welcomed(addr: std::net::SocketAddr) -> Client {
    let mut client = Client::connect(addr, "/calc").await;
    assert_eq!(client.recv_text().await, "welcome");
    client
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("no hook ran")
        .unwrap()
}

#[tokio::test]
async fn events_are_routed_and_answered_in_the_envelope() {
    let (addr, _events) = calculator().await;
    let mut client = Client::connect(addr, "/calc").await;
    assert_eq!(client.recv_text().await, "welcome");

    client
        .send_text(r#"{"event":"sum","data":{"a":2,"b":40}}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"event": "sum", "data": {"total": 42}})
    );

    // A JSON string binds to `String` as its text.
    client
        .send_text(r#"{"event":"shout","data":"hello"}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"event": "shout", "data": "HELLO"})
    );
}

#[tokio::test]
async fn a_request_with_an_id_is_acknowledged() {
    let (addr, _events) = calculator().await;
    let mut client = welcomed(addr).await;

    client
        .send_text(r#"{"event":"sum","data":{"a":1,"b":1},"id":7}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 7, "data": {"total": 2}})
    );
    // Even a handler that returns nothing acknowledges when asked to.
    client.send_text(r#"{"event":"quiet","id":8}"#).await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 8, "data": null})
    );
}

#[tokio::test]
async fn a_stream_answers_once_per_item() {
    let (addr, _events) = calculator().await;
    let mut client = welcomed(addr).await;

    client
        .send_text(r#"{"event":"count","data":{"to":3}}"#)
        .await;
    for expected in 1..=3 {
        assert_eq!(
            client.recv_json::<Value>().await,
            json!({"event": "count", "data": expected})
        );
    }
    // The next message is answered after the stream ended: order holds.
    client.send_text(r#"{"event":"shout","data":"done"}"#).await;
    assert_eq!(client.recv_json::<Value>().await["data"], "DONE");
}

#[tokio::test]
async fn unknown_events_and_non_events_get_an_error_and_the_connection_stays_open() {
    let (addr, mut events) = calculator().await;
    let mut client = welcomed(addr).await;
    assert!(next_event(&mut events).await.starts_with("connect"));

    client.send_text(r#"{"event":"divide","data":1}"#).await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"error": "unknown event `divide`", "status": 404})
    );
    assert_eq!(
        next_event(&mut events).await,
        "error unknown event `divide`"
    );

    client.send_text("not json").await;
    assert_eq!(client.recv_json::<Value>().await["status"], 400);

    // A binding failure inside an event: the error names the problem, the hook hears of it.
    client
        .send_text(r#"{"event":"sum","data":{"a":"two"}}"#)
        .await;
    assert_eq!(client.recv_json::<Value>().await["status"], 400);
    assert!(next_event(&mut events).await.starts_with("error"));

    client
        .send_text(r#"{"event":"shout","data":"still here"}"#)
        .await;
    assert_eq!(client.recv_json::<Value>().await["data"], "STILL HERE");
}

#[tokio::test]
async fn data_binds_as_json_of_any_kind_and_as_a_string_only_from_a_string() {
    let (addr, _events) = calculator().await;
    let mut client = welcomed(addr).await;
    // A JSON string decodes into a typed value (a unit enum), as any other JSON does.
    assert_eq!(
        client.request::<String>("pick", "green").await,
        Ok("green".into())
    );
    let refused = client.request::<String>("pick", "blue").await.unwrap_err();
    assert_eq!(refused.status, 400);
    assert!(
        refused.error.contains("unknown variant `blue`"),
        "{refused:?}"
    );
    // `String` takes the string's text, and refuses anything that is not a string.
    assert_eq!(
        client.request::<String>("shout", "hi").await,
        Ok("HI".into())
    );
    let refused = client.request::<String>("shout", &5).await.unwrap_err();
    assert_eq!(
        refused,
        RequestError {
            status: 400,
            error: "`data` must be a string here (take `Json<T>` for other values)".into()
        }
    );
}

#[tokio::test]
async fn every_error_answering_a_request_with_an_id_carries_the_id_back() {
    let (addr, _events) = calculator().await;
    let mut client = welcomed(addr).await;

    // The handler's own error.
    client
        .send_text(r#"{"event":"halve","data":3,"id":7}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 7, "error": "3 is odd", "status": 409})
    );
    // A binding error, before the handler runs.
    client
        .send_text(r#"{"event":"halve","data":"three","id":8}"#)
        .await;
    let reply = client.recv_json::<Value>().await;
    assert_eq!(
        (reply["ack"].as_u64(), reply["status"].as_u64()),
        (Some(8), Some(400))
    );
    // An event nobody handles.
    client
        .send_text(r#"{"event":"cube","data":3,"id":9}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 9, "error": "unknown event `cube`", "status": 404})
    );
    // An error in the middle of a stream answers the same request as the items before it.
    client
        .send_text(r#"{"event":"countdown","data":1,"id":10}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 10, "data": 1})
    );
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 10, "error": "liftoff", "status": 410})
    );
    // Without an id the error keeps its plain shape; the answer to a success is unchanged.
    client.send_text(r#"{"event":"halve","data":5}"#).await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"error": "5 is odd", "status": 409})
    );
    client
        .send_text(r#"{"event":"halve","data":4,"id":11}"#)
        .await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"ack": 11, "data": 2})
    );
}

#[tokio::test]
async fn on_connect_and_on_disconnect_run_once_each() {
    let (addr, mut events) = calculator().await;
    let client = Client::connect(addr, "/calc").await;
    let connected = next_event(&mut events).await;
    let id = connected.strip_prefix("connect ").unwrap().to_owned();
    client.close().await;
    assert_eq!(
        next_event(&mut events).await,
        format!("disconnect {id} Some(1000)")
    );
}

/// A catch-all gateway: what no event handler takes, `#[on_message]` answers as it is.
struct Raw;

#[gateway("raw")]
impl Raw {
    #[subscribe("ping")]
    async fn ping(&self) -> &'static str {
        "pong"
    }

    #[on_message]
    async fn anything(&self, #[body] text: String) -> String {
        format!("raw: {text}")
    }
}

#[tokio::test]
async fn on_message_catches_what_no_subscription_handles() {
    let addr = start(App::new().gateway(Raw)).await;
    let mut client = Client::connect(addr, "/raw").await;
    client.send_text(r#"{"event":"ping"}"#).await;
    assert_eq!(
        client.recv_json::<Value>().await,
        json!({"event": "ping", "data": "pong"})
    );
    assert_eq!(client.ask("plain text").await, "raw: plain text");
    let unknown = r#"{"event":"other"}"#;
    assert_eq!(client.ask(unknown).await, format!("raw: {unknown}"));
}

const OWN_PORT: u16 = 39_187;

/// Served on its own listener.
struct Side;

#[gateway("side", port = 39187)]
impl Side {
    #[subscribe("where")]
    async fn location(&self) -> &'static str {
        "side port"
    }
}

#[tokio::test]
async fn a_gateway_with_its_own_port_is_served_there_by_serve() {
    let main = start(App::new().gateway(Raw).gateway(Side)).await;
    let side = std::net::SocketAddr::from(([127, 0, 0, 1], OWN_PORT));
    // `serve` binds every own port before it answers anything on the main one: once a handshake
    // on the main port succeeds, the side port is listening.
    drop(Client::connect(main, "/raw").await);
    let mut client = Client::connect(side, "/side").await;
    client.send_text(r#"{"event":"where"}"#).await;
    assert_eq!(client.recv_json::<Value>().await["data"], "side port");
    // Not on the main port.
    assert_eq!(
        Client::connect_with(main, "/side", &[]).await.err(),
        Some(404)
    );
}

#[test]
fn into_router_refuses_an_app_with_an_own_port_gateway() {
    let error = App::new()
        .gateway(Side)
        .into_router()
        .expect_err("one router cannot serve two ports");
    assert!(
        matches!(error, BuildError::OwnPort { port: OWN_PORT }),
        "{error}"
    );
}

/// Claims `/raw`, like the `Raw` gateway.
struct Clash;

#[controller("")]
impl Clash {
    #[websocket("raw")]
    async fn raw(&self) {}
}

#[test]
fn a_gateway_and_a_controller_on_one_path_fail_the_build_naming_both() {
    let error = App::new()
        .gateway(Raw)
        .controller(Clash)
        .into_router()
        .expect_err("duplicate");
    let message = error.to_string();
    assert!(
        message.contains("`Raw`") && message.contains("`Clash::raw`"),
        "{message}"
    );
}

/// An SSE stream on `/raw`, the path of the `Raw` gateway.
struct Stream;

#[controller("")]
impl Stream {
    #[sse("raw")]
    fn raw(&self) -> impl gateway::reply::Stream<Item = &'static str> + Send + 'static {
        futures_util::stream::iter(["one"])
    }
}

#[test]
fn an_sse_path_taken_by_a_websocket_fails_the_build_naming_both() {
    let error = App::new()
        .gateway(Raw)
        .controller(Stream)
        .into_router()
        .expect_err("duplicate");
    let message = error.to_string();
    assert!(
        message.contains("`Raw`") && message.contains("`Stream::raw`"),
        "{message}"
    );
}

/// Tells the test when the last copy of a bidder's state is dropped.
struct Alive(mpsc::UnboundedSender<String>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.send("state dropped".to_owned()).ok();
    }
}

/// A bidder's per-connection state.
#[derive(Clone)]
struct Bidder {
    name: String,
    _alive: std::sync::Arc<Alive>,
}

/// Keeps who bids in per-connection state and pushes bids in the event envelope.
struct Auction {
    events: mpsc::UnboundedSender<String>,
}

#[gateway("auction")]
impl Auction {
    #[subscribe("join")]
    async fn join(&self, #[body] name: String, conn: Connection) {
        let alive = std::sync::Arc::new(Alive(self.events.clone()));
        conn.insert(Bidder {
            name,
            _alive: alive,
        });
        conn.join(String::from("auction"));
    }

    #[subscribe("bid")]
    async fn bid(
        &self,
        #[body] Json(amount): Json<u64>,
        bidder: Extension<Bidder>,
        conn: Connection,
        hub: Hub,
    ) -> Result<(), gateway::connection::SendError> {
        let bid = BidMade {
            from: bidder.name.clone(),
            amount,
        };
        hub.room("auction").except(conn.id()).emit("bid", &bid);
        conn.emit("your bid", &amount)
    }

    #[subscribe("whoami")]
    async fn whoami(&self, bidder: Option<Extension<Bidder>>) -> Ack<Option<String>> {
        Ack(bidder.map(|bidder| bidder.name.clone()))
    }

    /// A value serde cannot encode (a map with non-string keys) is sent to no one.
    #[subscribe("unencodable")]
    async fn unencodable(&self, conn: Connection, hub: Hub) -> Ack<(usize, bool)> {
        let map = std::collections::HashMap::from([(vec![1u8], 1u8)]);
        let failed = conn.emit("map", &map) == Err(gateway::connection::SendError::Unencodable);
        Ack((hub.all().send_json(&map), failed))
    }

    #[on_disconnect]
    async fn left(&self, bidder: Option<Extension<Bidder>>) {
        let name = bidder.map_or_else(|| "nobody".to_owned(), |bidder| bidder.name.clone());
        self.events.send(format!("{name} left")).ok();
    }
}

#[derive(Serialize)]
struct BidMade {
    from: String,
    amount: u64,
}

#[tokio::test]
async fn per_connection_state_binds_as_a_parameter_and_is_dropped_with_the_connection() {
    let (events, mut heard) = mpsc::unbounded_channel();
    let addr = start(App::new().gateway(Auction { events })).await;
    let mut ada = Client::connect(addr, "/auction").await;

    ada.send_text(r#"{"event":"bid","data":100,"id":1}"#).await;
    assert_eq!(
        ada.recv_json::<Value>().await,
        json!({"ack": 1, "error": "this connection has no `Bidder` yet", "status": 409})
    );
    ada.send_text(r#"{"event":"whoami","id":2}"#).await;
    assert_eq!(
        ada.recv_json::<Value>().await,
        json!({"ack": 2, "data": null})
    );

    ada.send_text(r#"{"event":"join","data":"ada","id":3}"#)
        .await;
    assert_eq!(
        ada.recv_json::<Value>().await,
        json!({"ack": 3, "data": null})
    );
    ada.send_text(r#"{"event":"whoami","id":4}"#).await;
    assert_eq!(
        ada.recv_json::<Value>().await,
        json!({"ack": 4, "data": "ada"})
    );

    ada.close().await;
    assert_eq!(next_event(&mut heard).await, "ada left");
    assert_eq!(next_event(&mut heard).await, "state dropped");
}

#[tokio::test]
async fn emit_pushes_events_in_the_envelope_the_gateway_answers_in() {
    let (events, _heard) = mpsc::unbounded_channel();
    let addr = start(App::new().gateway(Auction { events })).await;
    let mut ada = Client::connect(addr, "/auction").await;
    let mut bob = Client::connect(addr, "/auction").await;
    for (client, name) in [(&mut ada, "ada"), (&mut bob, "bob")] {
        client
            .send_text(&format!(r#"{{"event":"join","data":"{name}","id":1}}"#))
            .await;
        client.recv_text().await;
    }

    assert_eq!(ada.request::<()>("bid", &100).await, Ok(()));
    // Byte for byte: `event` first, then `data`, as the gateway's own answers.
    assert_eq!(
        bob.recv_text().await,
        r#"{"event":"bid","data":{"from":"ada","amount":100}}"#
    );
    // Pushed before the answer, kept aside by `request`.
    assert_eq!(ada.recv_text().await, r#"{"event":"your bid","data":100}"#);

    let sent = ada.request::<(usize, bool)>("unencodable", &()).await;
    assert_eq!(sent, Ok((0, true)));
    // Anything pushed to bob would arrive before the answer to his next request (and be kept
    // aside by `request`): nothing was sent for the value that could not be encoded.
    assert_eq!(bob.request::<String>("whoami", &()).await, Ok("bob".into()));
    bob.expect_no_message(std::time::Duration::ZERO).await;
}
