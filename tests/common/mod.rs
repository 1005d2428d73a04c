//! What the tests share besides `gateway::test`: a raw client for what well-behaved clients never
//! do, an echo controller and
//! an empty event stream.
#![allow(dead_code)] // each test binary uses a different subset

pub(crate) mod chat_wire;
pub(crate) mod commands;
pub(crate) mod procfs;
pub(crate) mod proxy;
pub(crate) mod raw;
pub(crate) mod redis;

/// `/echo` answers every text message with itself.
pub(crate) struct Echo;

#[gateway::controller("")]
impl Echo {
    #[websocket("echo")]
    async fn echo(&self, #[body] message: String) -> String {
        message
    }
}

/// `GET /feed`: an event stream with nothing of its own; tests push to it.
pub(crate) struct Feed;

#[gateway::controller("")]
impl Feed {
    #[sse("feed")]
    async fn feed(
        &self,
    ) -> impl gateway::reply::Stream<Item = gateway::sse::Event> + Send + 'static {
        futures_util::stream::empty()
    }
}

/// An observer that calls `F` with every connection's close summary, so a test can wait for
/// a connection's end: `OnClose::new(move |_| { ended.send(()).ok(); })`.
pub(crate) struct OnClose<F>(F);

impl<F: Fn(&gateway::lifecycle::CloseSummary) + Send + Sync + 'static> OnClose<F> {
    /// Calls `f` on every close.
    pub(crate) fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F: Fn(&gateway::lifecycle::CloseSummary) + Send + Sync + 'static> gateway::lifecycle::Observer
    for OnClose<F>
{
    async fn on_close(&self, summary: &gateway::lifecycle::CloseSummary) {
        (self.0)(summary);
    }
}
