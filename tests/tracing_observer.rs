//! The `TracingObserver`, in a test binary of its own: `tracing` caches per call site whether
//! anyone listens, so other tests running beside it without a subscriber would hide its span.

mod common;

use common::{Echo, OnClose};
use gateway::prelude::*;
use gateway::test::{start, Client};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `tracing` writer that keeps everything in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// A current-thread runtime keeps the server's tasks on this thread, under this subscriber.
#[tokio::test(flavor = "current_thread")]
async fn tracing_observer_logs_the_connection_and_its_summary() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing_subscriber::util::SubscriberInitExt::set_default(subscriber);

    let (closed, mut closed_events) = tokio::sync::mpsc::unbounded_channel();
    let app = App::new()
        .observer(TracingObserver)
        .observer(OnClose::new(move |_| {
            closed.send(()).ok();
        }))
        .controller(Echo);
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/echo").await;
    assert_eq!(client.ask("traced").await, "traced");
    client.close().await;
    closed_events.recv().await;

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("connection requested"), "{log}");
    let closed_line = log
        .lines()
        .find(|line| line.contains("connection closed"))
        .expect(&log);
    for field in [
        "client_id=Some(1)",
        "path=/echo",
        "closed_by=Client",
        "code=Some(1000)",
        "messages_in=1",
        "messages_out=1",
    ] {
        assert!(
            closed_line.contains(field),
            "`{field}` missing from: {closed_line}"
        );
    }
    // The runtime's per-connection span carries the client id and path.
    assert!(
        closed_line.contains("connection{client_id=1 path=/echo}"),
        "{closed_line}"
    );
}
