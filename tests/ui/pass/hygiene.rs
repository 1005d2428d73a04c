//! The expansion must not depend on the user's prelude or be confused by the user's names.
#![no_implicit_prelude]

extern crate gateway;
extern crate std;

use gateway::prelude::{controller, App, RateLimit, RequireHeader, TracingObserver};
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
}

fn main() {
    let _ = App::new().provide(Service).controller(Hygiene).into_router();
}
