//! The handler calls of one connection running at once, for `concurrency > 1`.

use crate::reply::Reply;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;

/// Up to `limit` handler calls running at once. Made on the first call, so a connection that
/// handles its messages in order holds none of it.
pub(super) struct Running<'a> {
    limit: usize,
    calls: Option<FuturesUnordered<BoxFuture<'a, Reply>>>,
}

impl<'a> Running<'a> {
    pub(super) fn new(limit: usize) -> Self {
        Self { limit, calls: None }
    }

    /// Messages are handled one at a time, in order, inline in the loop.
    pub(super) fn in_order(&self) -> bool {
        self.limit <= 1
    }

    /// Another call may start (so the client may be read).
    pub(super) fn has_room(&self) -> bool {
        self.calls.as_ref().map_or(0, FuturesUnordered::len) < self.limit
    }

    pub(super) fn push(&mut self, call: impl std::future::Future<Output = Reply> + Send + 'a) {
        self.calls
            .get_or_insert_with(FuturesUnordered::new)
            .push(Box::pin(call));
    }

    /// The reply of the next call to finish; `None` at once when none is running.
    pub(super) async fn next(&mut self) -> Option<Reply> {
        match &mut self.calls {
            Some(calls) => calls.next().await,
            None => None,
        }
    }
}
