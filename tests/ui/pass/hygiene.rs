//! The expansion must not depend on the user's prelude or be confused by the user's names.
#![no_implicit_prelude]

extern crate futures_util;
extern crate gateway;
extern crate serde;
extern crate std;

use gateway::prelude::{
    controller, gateway, Ack, App, CloseSummary, Connection, Json, RateLimit, RequireHeader,
    TracingObserver, WsError,
};
use std::string::String;
use std::sync::Arc as StdArc;

// User types named like things the expansion might refer to.
#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Handler;
#[allow(dead_code)]
struct Arc;

struct Hygiene;

#[derive(Clone)]
struct User;

struct Service;

#[controller("hygiene")]
#[guard(RequireHeader("x"))]
#[observer(TracingObserver)]
impl Hygiene {
    #[websocket("data")]
    #[interceptor(RateLimit::per_second(5))]
    async fn data(&self, #[data] user: User, #[dep] service: StdArc<Service>) {
        let _ = (user, service);
    }

    #[websocket("echo", ping = "5s", max_message = "1KiB")]
    async fn echo(&self, #[body] message: String, #[header("x")] x: std::option::Option<String>) -> String {
        let _ = x;
        message
    }

    #[websocket("hello", mode = SendOnly)]
    async fn hello(&self) -> &'static str {
        "hello"
    }

    #[sse("events")]
    fn events(
        &self,
    ) -> impl gateway::prelude::Stream<Item = gateway::sse::Event> + ::std::marker::Send + 'static
    {
        futures_util::stream::empty()
    }
}

struct Room;

#[derive(serde::Deserialize, serde::Serialize)]
struct Bid {
    amount: u64,
}

#[gateway("room", ping = "5s", concurrency = 2)]
#[guard(RequireHeader("x"))]
impl Room {
    #[on_connect]
    async fn joined(&self, conn: Connection) -> String {
        let _ = conn;
        String::new()
    }

    #[subscribe("bid")]
    async fn bid(&self, #[body] bid: Json<Bid>) -> std::result::Result<Ack<u64>, WsError> {
        std::result::Result::Ok(Ack(bid.0.amount))
    }

    #[on_message]
    async fn other(&self, #[body] text: String) -> std::option::Option<String> {
        std::option::Option::Some(text)
    }

    #[on_error]
    async fn failed(&self, error: &WsError) {
        let _ = error;
    }

    #[on_disconnect]
    async fn left(&self, summary: CloseSummary) {
        let _ = summary;
    }
}

fn main() {
    let _ = App::new()
        .provide(Service)
        .controller(Hygiene)
        .gateway(Room)
        .into_router();
}
