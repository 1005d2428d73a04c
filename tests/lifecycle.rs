//! DESIGN §5, step by step: every hook observable, in order, through a real socket.

mod common;

use gateway::app::BuildError;
use gateway::error::ErrorOrigin;
use gateway::extract::MessageContext;
use gateway::lifecycle::{
    Catcher, Caught, CloseSummary, ClosedBy, Guard, Handshake, Interceptor, Middleware, Observer,
    Rejection,
};
use gateway::prelude::*;
use gateway::reply::Reply;
use gateway::test::{start, Client, SseReader, WAIT};
use serde_json::Value;
use std::ops::ControlFlow;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Where every component writes what it saw; the test reads it as a stream of events.
#[derive(Clone)]
struct Log(mpsc::UnboundedSender<String>);

impl Log {
    fn new() -> (Log, mpsc::UnboundedReceiver<String>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (Log(sender), receiver)
    }

    fn write(&self, event: impl Into<String>) {
        self.0.send(event.into()).ok();
    }
}

/// Reads events until (and including) `last`.
async fn events_until(log: &mut mpsc::UnboundedReceiver<String>, last: &str) -> Vec<String> {
    let mut events = Vec::new();
    loop {
        let event = match tokio::time::timeout(WAIT, log.recv()).await {
            Ok(Some(event)) => event,
            _ => panic!("no `{last}` after {events:#?}"),
        };
        let done = event == last;
        events.push(event);
        if done {
            return events;
        }
    }
}

/// One component of every kind, tagged with its level.
#[derive(Clone)]
struct Recorder {
    level: &'static str,
    log: Log,
}

fn at(level: &'static str, log: &Log) -> Recorder {
    Recorder {
        level,
        log: log.clone(),
    }
}

impl Recorder {
    fn write(&self, what: &str) {
        self.log.write(format!("{} {what}", self.level));
    }
}

impl Observer for Recorder {
    async fn on_open(&self, _: &Handshake) {
        self.write("open");
    }

    async fn on_close(&self, summary: &CloseSummary) {
        let how = match summary.closed_by {
            ClosedBy::Rejected(status) => format!("rejected {}", status.as_u16()),
            closed_by => format!(
                "{closed_by:?} {:?} in={} out={}",
                summary.code, summary.messages_in, summary.messages_out
            ),
        };
        self.write(&format!("close {how}"));
    }
}

impl Middleware for Recorder {
    async fn handle(&self, _: &mut Handshake) -> Result<(), Response> {
        self.write("middleware");
        Ok(())
    }
}

impl Guard for Recorder {
    async fn check(&self, handshake: &Handshake) -> Result<(), Rejection> {
        self.write("guard");
        match handshake.header("x-deny") {
            Some(level) if level == self.level => Err(Rejection::forbidden("denied")),
            _ => Ok(()),
        }
    }
}

impl Interceptor for Recorder {
    async fn pre(&self, _: &mut MessageContext) -> ControlFlow<Reply> {
        self.write("pre");
        ControlFlow::Continue(())
    }

    async fn post(&self, _: &MessageContext, _: &mut Reply) {
        self.write("post");
    }
}

impl Catcher for Recorder {
    async fn catch(&self, error: &WsError, _: &Connection) -> Caught {
        self.write(&format!("catch {:?}", error.origin()));
        match error.message() {
            // The level named in the error handles it; the others pass.
            message if message == self.level => Caught::reply(format!("caught by {}", self.level)),
            _ => Caught::Pass,
        }
    }
}

struct Traced {
    log: Log,
}

#[controller("traced")]
#[observer(at("controller", &self.log))]
#[middleware(at("controller", &self.log))]
#[guard(at("controller", &self.log))]
#[interceptor(at("controller", &self.log))]
#[catcher(at("controller", &self.log))]
impl Traced {
    #[websocket("hooks", trigger_on_connect)]
    #[observer(at("method", &self.log))]
    #[middleware(at("method", &self.log))]
    #[guard(at("method", &self.log))]
    #[interceptor(at("method", &self.log))]
    #[catcher(at("method", &self.log))]
    async fn hooks(&self, #[body] message: Option<String>) -> Result<String, WsError> {
        self.log.write(format!(
            "endpoint {}",
            message.as_deref().unwrap_or("(connect)")
        ));
        match message {
            // "fail:<level>" makes the handler fail; the catcher at <level> answers.
            Some(message) => match message.strip_prefix("fail:") {
                Some(level) => Err(WsError::new(418, level.to_owned())),
                None => Ok(format!("got {message}")),
            },
            None => Ok("welcome".to_owned()),
        }
    }
}

async fn traced_app() -> (std::net::SocketAddr, mpsc::UnboundedReceiver<String>) {
    let (log, events) = Log::new();
    let app = App::new()
        .observer(at("app", &log))
        .middleware(at("app", &log))
        .guard(at("app", &log))
        .interceptor(at("app", &log))
        .catcher(at("app", &log))
        .controller(Traced { log });
    (start(app).await, events)
}

fn strings(events: &[&str]) -> Vec<String> {
    events
        .iter()
        .map(std::string::ToString::to_string)
        .collect()
}

#[tokio::test]
async fn every_hook_runs_in_the_documented_order() {
    let (addr, mut log) = traced_app().await;
    let mut client = Client::connect(addr, "/traced/hooks").await;
    assert_eq!(client.recv_text().await, "welcome");
    assert_eq!(client.ask("hi").await, "got hi");
    client.close().await;

    let events = events_until(&mut log, "method close Client Some(1000) in=1 out=2").await;
    assert_eq!(
        events,
        strings(&[
            "app open",
            "controller open",
            "method open",
            "app middleware",
            "controller middleware",
            "method middleware",
            "app guard",
            "controller guard",
            "method guard",
            // on connect: the message loop's steps with no body
            "app pre",
            "controller pre",
            "method pre",
            "endpoint (connect)",
            "method post",
            "controller post",
            "app post",
            // the message
            "app pre",
            "controller pre",
            "method pre",
            "endpoint hi",
            "method post",
            "controller post",
            "app post",
            "app close Client Some(1000) in=1 out=2",
            "controller close Client Some(1000) in=1 out=2",
            "method close Client Some(1000) in=1 out=2",
        ])
    );
}

#[tokio::test]
async fn a_guard_refuses_before_the_upgrade_and_observers_see_it() {
    let (addr, mut log) = traced_app().await;
    let refused = Client::connect_with(addr, "/traced/hooks", &[("x-deny", "controller")]).await;
    assert_eq!(refused.err(), Some(403));

    let events = events_until(&mut log, "method close rejected 403").await;
    assert_eq!(
        events,
        strings(&[
            "app open",
            "controller open",
            "method open",
            "app middleware",
            "controller middleware",
            "method middleware",
            // the controller's guard refuses, so the method's is never asked
            "app guard",
            "controller guard",
            "app close rejected 403",
            "controller close rejected 403",
            "method close rejected 403",
        ])
    );
}

#[tokio::test]
async fn catchers_run_innermost_first_and_the_first_answer_wins() {
    let (addr, mut log) = traced_app().await;
    let mut client = Client::connect(addr, "/traced/hooks").await;
    assert_eq!(client.recv_text().await, "welcome");
    events_until(&mut log, "app post").await;

    assert_eq!(client.ask("fail:app").await, "caught by app");
    let events = events_until(&mut log, "app catch Handler").await;
    let catches: Vec<_> = events
        .iter()
        .filter(|event| event.contains("catch"))
        .cloned()
        .collect();
    assert_eq!(
        catches,
        strings(&[
            "method catch Handler",
            "controller catch Handler",
            "app catch Handler"
        ])
    );

    // The method's catcher answers, so the controller's and the app's are never asked: up to
    // the next message's last hook, the method's is the only catch.
    assert_eq!(client.ask("fail:method").await, "caught by method");
    assert_eq!(client.ask("next").await, "got next");
    let events = events_until(&mut log, "endpoint next").await;
    let catches: Vec<_> = events
        .iter()
        .filter(|event| event.contains("catch"))
        .collect();
    assert_eq!(catches, ["method catch Handler"], "{events:?}");

    // Nobody answers: the default catcher replies with the error and the connection stays open.
    client.send_text("fail:nobody").await;
    let error = client.recv_json::<Value>().await;
    assert_eq!(error, serde_json::json!({"error": "nobody", "status": 418}));
    assert_eq!(client.ask("still open").await, "got still open");
}

/// Uppercases what comes in, brackets what goes out, and answers some messages itself.
struct Shouting;

impl Interceptor for Shouting {
    async fn pre(&self, ctx: &mut MessageContext) -> ControlFlow<Reply> {
        let Some(Message::Text(text)) = ctx.body() else {
            return ControlFlow::Continue(());
        };
        match text.as_str() {
            "ping" => ControlFlow::Break(Reply::Message(Message::from("pong"))),
            "forbidden" => ControlFlow::Break(Reply::Error(WsError::new(403, "not allowed"))),
            "drop" => ControlFlow::Break(Reply::Nothing),
            other => {
                let upper = other.to_uppercase();
                ctx.set_body(Some(Message::from(upper)));
                ControlFlow::Continue(())
            }
        }
    }

    async fn post(&self, _: &MessageContext, reply: &mut Reply) {
        if let Reply::Message(Message::Text(text)) = reply {
            *reply = Reply::Message(Message::from(format!("[{}]", text.as_str())));
        }
    }
}

/// Reports which origin each error had, so the test can see interceptor rejections arrive.
struct OriginCatcher;

impl Catcher for OriginCatcher {
    async fn catch(&self, error: &WsError, _: &Connection) -> Caught {
        match error.origin() {
            ErrorOrigin::Interceptor => {
                Caught::reply(format!("interceptor said: {}", error.message()))
            }
            _ => Caught::Pass,
        }
    }
}

struct Echo;

#[controller("echo")]
#[interceptor(Shouting)]
#[catcher(OriginCatcher)]
impl Echo {
    #[websocket("")]
    async fn echo(&self, #[body] message: String) -> String {
        message
    }
}

#[tokio::test]
async fn interceptors_transform_and_short_circuit() {
    let addr = start(App::new().controller(Echo)).await;
    let mut client = Client::connect(addr, "/echo").await;
    assert_eq!(client.ask("hello").await, "[HELLO]");
    // Answered by the interceptor: the handler never ran, and post does not run either.
    assert_eq!(client.ask("ping").await, "pong");
    assert_eq!(
        client.ask("forbidden").await,
        "interceptor said: not allowed"
    );
    // Dropped: no answer at all, so the next answer is for the next message.
    client.send_text("drop").await;
    assert_eq!(client.ask("after").await, "[AFTER]");
}

/// Turns a panic into a chosen close code.
struct PanicToClose;

impl Catcher for PanicToClose {
    async fn catch(&self, error: &WsError, _: &Connection) -> Caught {
        match error.origin() {
            ErrorOrigin::Panic => Caught::Close(4500, error.message().to_owned().into()),
            _ => Caught::Pass,
        }
    }
}

struct Fragile;

#[controller("fragile")]
impl Fragile {
    #[websocket("")]
    #[catcher(PanicToClose)]
    async fn fragile(&self, #[body] message: String) -> String {
        if message == "break" {
            panic!("broken on purpose");
        }
        message
    }
}

#[tokio::test]
async fn a_custom_catcher_decides_what_a_panic_does() {
    let addr = start(App::new().controller(Fragile)).await;
    let mut client = Client::connect(addr, "/fragile").await;
    assert_eq!(client.ask("fine").await, "fine");
    client.send_text("break").await;
    assert_eq!(
        client.expect_close().await,
        (4500, "handler panicked: broken on purpose".to_owned())
    );
}

struct Greeter {
    greeting: String,
}

#[derive(Clone)]
struct Visitor(String);

struct Services;

#[controller("services")]
impl Services {
    #[websocket("greet")]
    async fn greet(&self, #[dep] greeter: Arc<Greeter>, #[body] name: String) -> String {
        format!("{}, {name}", greeter.greeting)
    }

    /// No middleware attaches a `Visitor` here.
    #[websocket("visitor")]
    async fn visitor(&self, #[data] visitor: Visitor) -> String {
        visitor.0
    }

    #[websocket("maybe-visitor")]
    async fn maybe_visitor(&self, #[data] visitor: Option<Visitor>) -> String {
        visitor.map_or_else(|| "nobody".to_owned(), |visitor| visitor.0)
    }
}

#[test]
fn a_missing_dependency_fails_the_build_naming_handler_and_service() {
    let error = App::new()
        .controller(Services)
        .into_router()
        .expect_err("Greeter was not provided");
    assert!(
        matches!(error, BuildError::MissingDependency { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("Services::greet"), "{message}");
    assert!(message.contains("Greeter"), "{message}");
}

#[tokio::test]
async fn dependencies_bind_and_missing_data_goes_to_the_catchers_as_a_500() {
    let greeter = Greeter {
        greeting: "Hello".to_owned(),
    };
    let addr = start(App::new().provide(greeter).controller(Services)).await;
    let mut client = Client::connect(addr, "/services/greet").await;
    assert_eq!(client.ask("Ada").await, "Hello, Ada");

    let mut client = Client::connect(addr, "/services/visitor").await;
    client.send_text("who?").await;
    let error = client.recv_json::<Value>().await;
    assert_eq!(error["status"], 500);
    assert!(
        error["error"].as_str().unwrap().contains("Visitor"),
        "{error}"
    );

    let mut client = Client::connect(addr, "/services/maybe-visitor").await;
    assert_eq!(client.ask("who?").await, "nobody");
}

/// Event streams behind guards at every level: the app wants `x-app`, the controller `x-user`,
/// the `admin` stream also `x-admin`.
struct Feeds;

#[controller("feeds")]
#[guard(RequireHeader("x-user"))]
impl Feeds {
    #[sse("news")]
    fn news(&self) -> impl gateway::reply::Stream<Item = &'static str> + Send + 'static {
        futures_util::stream::iter(["news"])
    }

    #[guard(RequireHeader("x-admin"))]
    #[sse("admin")]
    fn admin(&self) -> impl gateway::reply::Stream<Item = &'static str> + Send + 'static {
        futures_util::stream::iter(["secrets"])
    }
}

#[tokio::test]
async fn guards_of_the_app_the_controller_and_the_method_protect_event_streams() {
    let addr = start(App::new().guard(RequireHeader("x-app")).controller(Feeds)).await;
    let open = |path, headers| SseReader::connect_with(addr, path, headers);
    let user = [("x-app", "1"), ("x-user", "ada")];
    let admin = [("x-app", "1"), ("x-user", "ada"), ("x-admin", "yes")];

    assert_eq!(
        open("/feeds/news", &[("x-user", "ada")]).await.err(),
        Some(403)
    );
    assert_eq!(
        open("/feeds/news", &[("x-app", "1")]).await.err(),
        Some(403)
    );
    let mut news = open("/feeds/news", &user)
        .await
        .expect("a user reads the news");
    assert_eq!(news.next_event().await.data, "news");

    assert_eq!(open("/feeds/admin", &user).await.err(), Some(403));
    let mut secrets = open("/feeds/admin", &admin).await.expect("an admin stream");
    assert_eq!(secrets.next_event().await.data, "secrets");
}
