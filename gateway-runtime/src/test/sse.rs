//! [`SseReader`]: reads a Server-Sent Events stream event by event.

use super::WAIT;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// One event read by an [`SseReader`].
///
/// ```
/// use gateway::prelude::*;
/// use gateway::test::{start, SseReader};
///
/// struct Feed;
///
/// #[controller("")]
/// impl Feed {
///     #[sse("feed")]
///     fn feed(&self) -> impl Stream<Item = gateway::sse::Event> + Send + 'static {
///         futures_util::stream::empty()
///     }
/// }
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let app = App::new().controller(Feed);
/// let hub = app.hub();
/// let addr = start(app).await;
/// let mut reader = SseReader::connect(addr, "/feed").await;
/// hub.sse("/feed").send(gateway::sse::Event::default().event("price").data("42"));
/// let event = reader.next_event().await;
/// assert_eq!((event.event.as_deref(), event.data.as_str()), (Some("price"), "42"));
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:`, if any.
    pub id: Option<String>,
}

/// A Server-Sent Events client for tests: `GET path` and read events one by one (an example is
/// at [`SseEvent`]).
pub struct SseReader {
    stream: tokio::io::BufReader<TcpStream>,
    /// Decoded body text not yet parsed into events.
    pending: String,
}

impl std::fmt::Debug for SseReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseReader")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl SseReader {
    /// Opens the event stream at `path`.
    ///
    /// # Panics
    /// When the server does not answer `200` with `text/event-stream`.
    pub async fn connect(addr: SocketAddr, path: &str) -> SseReader {
        match Self::connect_with(addr, path, &[]).await {
            Ok(reader) => reader,
            Err(status) => panic!("not an event stream: HTTP {status}"),
        }
    }

    /// Opens the event stream at `path` with extra request headers; `Err(status)` when the
    /// server answers with another status than `200` (403 from a guard, ..).
    ///
    /// # Panics
    /// When the connection fails, or a `200` is not an event stream.
    pub async fn connect_with(
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<SseReader, u16> {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut stream = tokio::io::BufReader::new(stream);
        let extra: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        // The server's address is the host, unless the headers name another.
        let host = if headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("host"))
        {
            String::new()
        } else {
            format!("Host: {addr}\r\n")
        };
        let request =
            format!("GET {path} HTTP/1.1\r\n{host}Accept: text/event-stream\r\n{extra}\r\n");
        stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let read = tokio::time::timeout(WAIT, stream.read_line(&mut line)).await;
            assert!(
                matches!(read, Ok(Ok(1..))),
                "the server did not answer {path}"
            );
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|status| status.parse().ok())
            .unwrap_or(0);
        if status != 200 {
            return Err(status);
        }
        assert!(
            head.to_ascii_lowercase().contains("text/event-stream"),
            "not an event stream: {head}"
        );
        Ok(SseReader {
            stream,
            pending: String::new(),
        })
    }

    /// The next event (keep-alive comments are skipped).
    ///
    /// # Panics
    /// When none arrives within [`WAIT`] or the stream ends.
    pub async fn next_event(&mut self) -> SseEvent {
        self.try_next_event()
            .await
            .expect("the event stream ended before an event")
    }

    /// Waits for the server to end the stream (its last chunk) and says which events came
    /// before the end.
    ///
    /// # Panics
    /// When the stream does not end within [`WAIT`].
    pub async fn expect_end(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.try_next_event().await {
            events.push(event);
        }
        events
    }

    /// The next event, or `None` once the server ended the stream.
    async fn try_next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                match parse_event(&block) {
                    Some(event) => return Some(event),
                    None => continue, // a comment (keep-alive) or `retry:` alone
                }
            }
            let chunk = tokio::time::timeout(WAIT, self.read_chunk())
                .await
                .expect("timed out waiting for the event stream")?;
            self.pending.push_str(&chunk);
        }
    }

    /// One chunk of the chunked response body; `None` for the last (empty) chunk.
    async fn read_chunk(&mut self) -> Option<String> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt};
        let mut size = String::new();
        self.stream
            .read_line(&mut size)
            .await
            .expect("read a chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunked event stream");
        if size == 0 {
            return None;
        }
        let mut chunk = vec![0; size + 2];
        self.stream
            .read_exact(&mut chunk)
            .await
            .expect("read a chunk");
        chunk.truncate(size);
        Some(String::from_utf8(chunk).expect("UTF-8 events"))
    }
}

/// One event block (up to its blank line); `None` when it holds no event.
fn parse_event(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut data = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event.event = Some(value.to_owned()),
            "data" => data.push(value),
            "id" => event.id = Some(value.to_owned()),
            _ => {} // comments and retry
        }
    }
    if data.is_empty() && event.event.is_none() {
        return None;
    }
    event.data = data.join("\n");
    Some(event)
}
