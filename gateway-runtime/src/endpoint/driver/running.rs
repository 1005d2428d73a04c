//! The handler calls of one connection running at once, for `concurrency > 1`.

use crate::call::reply::Reply;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use std::future::Future;
use std::task::Poll;

/// Handler calls running at once. Made on the first call and boxed, so a connection that
/// handles its messages in order holds one pointer of it (every idle connection's task holds
/// this).
#[derive(Default)]
pub(super) struct Running<'a> {
    calls: Option<Box<FuturesUnordered<BoxFuture<'a, Reply>>>>,
}

impl<'a> Running<'a> {
    /// How many calls are running.
    pub(super) fn len(&self) -> usize {
        self.calls.as_ref().map_or(0, |calls| calls.len())
    }

    pub(super) fn push(&mut self, call: impl Future<Output = Reply> + Send + 'a) {
        self.calls
            .get_or_insert_with(Box::default)
            .push(Box::pin(call));
    }

    /// The reply of the next call to finish; `None` at once when none is running. A `poll_fn`
    /// rather than an `async fn`: the loop waits on it in every `select!`, so its state is kept
    /// to one reference.
    pub(super) fn next(&mut self) -> impl Future<Output = Option<Reply>> + use<'_, 'a> {
        std::future::poll_fn(move |cx| match &mut self.calls {
            Some(calls) => calls.poll_next_unpin(cx),
            None => Poll::Ready(None),
        })
    }
}
