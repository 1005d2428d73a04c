//! The server asking a client: [`Connection::request`](crate::Connection::request) sends
//! `{"event": E, "data": D, "id": N}` and waits for the client's `{"ack": N, ..}`, the gateway
//! protocol's request turned around.

use crate::base::ids::ConnectionId;
use crate::base::protocol::{self, Answer};
use crate::base::send::SendError;
use crate::call::connection::Connection;
use crate::hub::Target;
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, Stream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::oneshot;

/// How long a request waits for its answer unless told otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to a client got no answer to use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// No answer within the request's timeout.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended for good before the answer came (a resumable session waits for
    /// its client within the request's timeout).
    #[error("the connection ended before the answer came")]
    Closed,
    /// The client answered with an error: its text and status (`404` when it has no handler
    /// for the event).
    #[error("the client answered {status}: {message}")]
    Refused {
        /// The error's text.
        message: String,
        /// Its status.
        status: u16,
    },
    /// The answer's `data` is not what the request expects.
    #[error("the answer's data is not what was expected: {0}")]
    Invalid(String),
    /// As many requests as the app allows are waiting for this client's answers
    /// ([`App::max_client_requests`](crate::App::max_client_requests)).
    #[error("too many requests wait for this client's answers")]
    TooMany,
    /// The request could not be sent: its data could not be encoded (logged), the client's
    /// queue is full, or the connection has ended.
    #[error("the request was not sent: {0}")]
    NotSent(SendError),
}

/// The requests of one connection that wait for their answers.
#[derive(Default)]
pub(crate) struct Waiting {
    state: Mutex<WaitingState>,
}

#[derive(Default)]
struct WaitingState {
    next: u64,
    answers: HashMap<u64, oneshot::Sender<Answer>>,
    /// The connection ended for good: no request waits any more.
    ended: bool,
}

impl Waiting {
    /// A number for a new request, and where its answer will come; `None` past `limit`
    /// waiting, or once the connection has ended.
    fn wait(&self, limit: usize) -> Result<(u64, oneshot::Receiver<Answer>), AnswerError> {
        let mut state = crate::base::sync::lock(&self.state);
        if state.ended {
            return Err(AnswerError::Closed);
        }
        if state.answers.len() >= limit {
            return Err(AnswerError::TooMany);
        }
        state.next += 1;
        let id = state.next;
        let (sender, receiver) = oneshot::channel();
        state.answers.insert(id, sender);
        Ok((id, receiver))
    }

    fn forget(&self, id: u64) {
        crate::base::sync::lock(&self.state).answers.remove(&id);
    }

    /// The client answered request `id`; an answer nobody waits for is dropped.
    pub(crate) fn answered(&self, id: u64, answer: Answer) {
        if let Some(waiter) = crate::base::sync::lock(&self.state).answers.remove(&id) {
            let _ = waiter.send(answer);
        }
    }

    /// The connection ended for good: every request fails with [`AnswerError::Closed`].
    pub(crate) fn end(&self) {
        let mut state = crate::base::sync::lock(&self.state);
        state.ended = true;
        state.answers.clear();
    }
}

/// A request to one client, sent when awaited: resolves with its answer's `data` as a `T`.
/// See [`Connection::request`](crate::Connection::request).
#[must_use = "a request is sent when it is awaited"]
pub struct Request<T> {
    connection: Connection,
    /// Shared by the requests of one `Target::request`.
    event: Arc<str>,
    /// `data` as JSON text (`None`: it could not be encoded).
    data: Option<Arc<str>>,
    timeout: Duration,
    answer: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Request<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("client", &self.connection.id())
            .field("event", &self.event)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<T> Request<T> {
    pub(crate) fn new(
        connection: Connection,
        event: &str,
        data: &(impl Serialize + ?Sized),
    ) -> Self {
        let data = crate::base::envelope::json_text(data).map(Arc::from);
        Self::encoded(connection, Arc::from(event), data)
    }

    /// With `data` already JSON text.
    fn encoded(connection: Connection, event: Arc<str>, data: Option<Arc<str>>) -> Self {
        Self {
            connection,
            event,
            data,
            timeout: DEFAULT_REQUEST_TIMEOUT,
            answer: PhantomData,
        }
    }

    /// How long to wait for the answer (default 10 s). On a resumable gateway this includes
    /// the time the client is away: the request waits for it in the session.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> IntoFuture for Request<T> {
    type Output = Result<T, AnswerError>;
    type IntoFuture = BoxFuture<'static, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let data = self
                .data
                .ok_or(AnswerError::NotSent(SendError::Unencodable))?;
            let waiting = self.connection.waiting();
            let (id, answer) = waiting.wait(self.connection.max_requests())?;
            let message = protocol::request(id, &self.event, &data);
            if let Err(error) = self.connection.send(message) {
                waiting.forget(id);
                return Err(AnswerError::NotSent(error));
            }
            match tokio::time::timeout(self.timeout, answer).await {
                Ok(Ok(Answer::Data(data))) => serde_json::from_str(&data)
                    .map_err(|error| AnswerError::Invalid(error.to_string())),
                Ok(Ok(Answer::Error { message, status })) => {
                    Err(AnswerError::Refused { message, status })
                }
                Ok(Err(_)) => Err(AnswerError::Closed),
                Err(_) => {
                    waiting.forget(id);
                    Err(AnswerError::Timeout(self.timeout))
                }
            }
        })
    }
}

/// Requests to every client of a target on this instance, as a stream of answers, each with
/// its client's id, in the order they come; it ends once every client answered or the timeout
/// passed. See [`Target::request`].
#[must_use = "the requests are sent when the stream is first polled"]
pub struct Requests<T> {
    unsent: Vec<(ConnectionId, Request<T>)>,
    answers: FuturesUnordered<BoxFuture<'static, (ConnectionId, Result<T, AnswerError>)>>,
}

impl<T> std::fmt::Debug for Requests<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Requests")
            .field("unsent", &self.unsent.len())
            .field("waiting", &self.answers.len())
            .finish()
    }
}

impl<T> Requests<T> {
    /// How long to wait for each answer (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        for (_, request) in &mut self.unsent {
            request.timeout = timeout;
        }
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Requests<T> {
    type Item = (ConnectionId, Result<T, AnswerError>);

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        for (id, request) in this.unsent.drain(..) {
            this.answers
                .push(Box::pin(async move { (id, request.await) }));
        }
        this.answers.poll_next_unpin(cx)
    }
}

impl Target<'_> {
    /// Asks every client of the target on this instance (in a cluster, not those of the other
    /// instances) as [`Connection::request`] asks one: a stream of `(client id, answer)` that
    /// ends when all have answered or the timeout passed.
    ///
    /// ```
    /// use futures_util::StreamExt;
    /// use gateway::prelude::*;
    ///
    /// async fn poll(hub: &Hub) -> usize {
    ///     let mut answers = hub.room("jury").request::<bool>("approve", &"the motion");
    ///     let mut yes = 0;
    ///     while let Some((_client, answer)) = answers.next().await {
    ///         yes += usize::from(answer == Ok(true));
    ///     }
    ///     yes
    /// }
    /// ```
    pub fn request<T>(self, event: &str, data: &(impl Serialize + ?Sized)) -> Requests<T> {
        let event: Arc<str> = Arc::from(event);
        let data = crate::base::envelope::json_text(data).map(Arc::<str>::from);
        let unsent = self
            .local_members()
            .into_iter()
            .filter_map(|(id, member)| Some((id, Connection::of_member(member)?)))
            .map(|(id, connection)| {
                let request = Request::encoded(connection, Arc::clone(&event), data.clone());
                (id, request)
            })
            .collect();
        Requests {
            unsent,
            answers: FuturesUnordered::new(),
        }
    }
}
