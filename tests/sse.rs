//! Server-Sent Events pushed from the hub: to the path as routes write it, loudly refused for a
//! path no `#[sse]` route serves. (A panic's backtrace costs memory: these stay apart from the
//! tests that watch RSS.)

mod common;

use common::{Echo, Feed};
use gateway::prelude::*;
use gateway::test::{start, Client, SseReader};

#[tokio::test]
async fn an_sse_path_is_accepted_as_routes_are_written_and_an_unknown_one_is_loud() {
    let app = App::new().controller(Feed).controller(Echo);
    let hub = app.hub();
    let addr = start(app).await;
    let mut reader = SseReader::connect(addr, "/feed").await;
    assert_eq!(hub.sse("feed").send("without the slash"), 1);
    assert_eq!(reader.next_event().await.data, "without the slash");
    assert_eq!(hub.sse("/feed").send("with it"), 1);
    assert_eq!(reader.next_event().await.data, "with it");

    let unknown = hub
        .try_sse("/fed")
        .expect_err("no #[sse] route serves /fed");
    assert_eq!(unknown.known, ["/feed"]);
    assert_eq!(
        unknown.to_string(),
        "no #[sse] route serves `/fed`; the app's event streams are at: /feed"
    );
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hub.sse("/fed")))
        .err()
        .unwrap();
    assert!(panic.downcast_ref::<String>().unwrap().contains("`/fed`"));

    // WebSocket paths are accepted as written too.
    let mut client = Client::connect(addr, "/echo").await;
    assert_eq!(client.ask("ready").await, "ready");
    assert_eq!(hub.path("echo").send("to /echo"), 1);
    assert_eq!(client.recv_text().await, "to /echo");
}

#[test]
fn an_sse_path_used_before_the_build_must_be_served() {
    let app = App::new().controller(Feed);
    app.hub().sse("fed");
    let error = app.into_routers().expect_err("no route serves /fed");
    assert_eq!(
        error.to_string(),
        "no #[sse] route serves `/fed`; the app's event streams are at: /feed"
    );

    let app = App::new().controller(Feed);
    app.hub().sse("feed");
    assert!(app.into_routers().is_ok());
}
