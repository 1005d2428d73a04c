//! The client's messages out of the bytes it sent: frames parsed (by [`frame`](super::frame),
//! the one parser), payloads unmasked, fragments joined, text checked as it arrives, and every
//! bound on a message held: its size, its frames, its deadline and the app's budget for
//! incomplete messages.
//!
//! Sans I/O: the socket appends what it reads to [`Reader::input`] and calls [`Reader::read`]
//! until it returns `Ok(None)`, which it does only with every byte accounted for. Each call takes
//! at least one frame header or payload off the input, or fails, and a failure is final.

use super::frame::{check_close_payload, parse_client_header, unmask, FrameError, Header, OpCode};
use super::limits::{InboundLimit, InboundLimits};
use super::utf8::Utf8Stream;
use bytes::{Buf, Bytes, BytesMut};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, Utf8Bytes};

/// Payloads up to this size are copied out of the input into a buffer of their own, so a small
/// message a handler keeps does not keep the whole read buffer it arrived in.
const COPY_UP_TO: usize = 1024;

/// Why the client's bytes are refused. Final: the connection is failed with
/// [`close`](Self::close)'s code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ReadError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Limit(#[from] InboundLimit),
}

impl ReadError {
    /// The close code and reason the client gets.
    pub(crate) fn close(self) -> (u16, &'static str) {
        match self {
            Self::Frame(error) => error.close(),
            Self::Limit(limit) => limit.close(),
        }
    }
}

/// One client's reader.
#[derive(Debug)]
pub(crate) struct Reader {
    /// Bytes read from the client and not taken yet: the current frame's payload so far (the
    /// first `unmasked` bytes of it unmasked), then whatever followed it. The socket frees it
    /// whenever it waits with it empty.
    pub(crate) input: BytesMut,
    limits: Arc<InboundLimits>,
    max_message: usize,
    /// The frame whose payload is arriving, and how much of it is unmasked.
    frame: Option<(Header, usize)>,
    /// A data message that did not arrive whole at once (boxed: rare, and every idle connection
    /// holds this field).
    message: Option<Box<Partial>>,
    /// Since when the client has left something unfinished (a header, a control frame, a
    /// message), with its deadline's timer once the socket had nothing more.
    unfinished: Option<Box<Unfinished>>,
    /// The first error, returned by every later read.
    failed: Option<ReadError>,
    /// After a failure: how many bytes at the input's start belong to a frame to skip, or
    /// `None` when where frames begin is lost (a header that cannot be parsed).
    skip: Option<usize>,
    /// The client sent its Close (refused or not): it sends nothing more.
    closed: bool,
}

/// What a refused client's bytes come to, as [`Reader::drain`] skips them.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Frames skipped so far; more may come.
    More,
    /// The client answered our Close with its own: the connection can end.
    ClientClosed,
    /// Bytes that are not frames: nothing more can be understood.
    Garbage,
}

/// A data message arriving in pieces: fragmented, or one frame in several reads.
#[derive(Debug)]
struct Partial {
    text: bool,
    /// The payloads of its completed frames.
    payload: BytesMut,
    frames: u32,
    utf8: Utf8Stream,
    /// Bytes reserved for it in the app's budget.
    held: usize,
}

/// Something the client started and has not finished.
#[derive(Debug)]
struct Unfinished {
    since: Instant,
    timer: Option<Pin<Box<Sleep>>>,
}

impl Reader {
    pub(crate) fn new(input: BytesMut, limits: Arc<InboundLimits>, max_message: usize) -> Self {
        Self {
            input,
            limits,
            max_message,
            frame: None,
            message: None,
            unfinished: None,
            failed: None,
            skip: Some(0),
            closed: false,
        }
    }

    /// The next complete message (data or control) in the input, `None` when the input ends
    /// inside one (every byte of it accounted for: a later call without more input returns
    /// `None` again at once), or the reason the client's bytes are refused.
    pub(crate) fn read(&mut self) -> Result<Option<Message>, ReadError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        let read = self.next_message().and_then(|message| match message {
            Some(message) => Ok(Some(message)),
            None => self.hold().map(|()| None),
        });
        let started = !self.input.is_empty() || self.frame.is_some() || self.message.is_some();
        match (&self.unfinished, started) {
            (None, true) => {
                self.unfinished = Some(Box::new(Unfinished {
                    since: Instant::now(),
                    timer: None,
                }));
            }
            (Some(_), false) => self.unfinished = None,
            _ => {}
        }
        if let Err(error) = read {
            self.fail(error);
        }
        read
    }

    /// The client's bytes are refused for good (by the read, or by the socket: the message
    /// deadline): everything unfinished is given back, and from here the input is only skipped
    /// through, frame by frame, without a payload being read (see [`drain`](Self::drain)).
    pub(crate) fn fail(&mut self, error: ReadError) {
        self.failed = Some(error);
        // The payload of the frame that was arriving begins the input.
        if let (Some(skip), Some((header, _))) = (self.skip.as_mut(), self.frame) {
            *skip = header.len;
        }
        if let Some(message) = self.message.take() {
            self.limits.release(message.held);
        }
        self.frame = None;
        self.unfinished = None;
        // What is skipped goes now.
        self.drain();
    }

    /// After a failure: skips the client's frames, unread, until its Close (we sent ours with
    /// the failure's code, and a client that answers it lets the connection end cleanly).
    pub(crate) fn drain(&mut self) -> Drained {
        if self.closed {
            return Drained::ClientClosed;
        }
        loop {
            let Some(skip) = self.skip.as_mut() else {
                return Drained::Garbage;
            };
            let skipped = (*skip).min(self.input.len());
            self.input.advance(skipped);
            *skip -= skipped;
            if self.input.is_empty() {
                // What was skipped is not kept: a refused client holds no buffer.
                self.input = BytesMut::new();
            }
            if *skip > 0 {
                return Drained::More;
            }
            match parse_client_header(&self.input, usize::MAX) {
                Err(_) => return Drained::Garbage,
                Ok(None) => return Drained::More,
                Ok(Some((header, _))) if header.opcode == OpCode::Close => {
                    return Drained::ClientClosed
                }
                Ok(Some((header, header_len))) => {
                    self.input.advance(header_len);
                    self.skip = Some(header.len);
                }
            }
        }
    }

    /// Bytes wait in the input: more of the client's messages (or part of one) have arrived.
    pub(crate) fn has_input(&self) -> bool {
        !self.input.is_empty()
    }

    /// Polls the deadline of what the client left unfinished (a header, a control frame, a
    /// message: the message timeout counts from when it began), for when the socket has
    /// nothing more: `Ready` when it has passed.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<InboundLimit> {
        let timeout = self.limits.message_timeout;
        let Some(unfinished) = self.unfinished.as_mut() else {
            return Poll::Pending;
        };
        let deadline = unfinished.since + timeout;
        let timer = unfinished
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer.as_mut().poll(cx).map(|()| InboundLimit::Timeout)
    }

    fn next_message(&mut self) -> Result<Option<Message>, ReadError> {
        loop {
            let (header, unmasked) = match self.frame {
                Some(frame) => frame,
                None => {
                    let parsed = parse_client_header(&self.input, self.max_message);
                    if matches!(parsed, Err(FrameError::Protocol(_))) {
                        // Where the next frame begins is lost with it.
                        self.skip = None;
                    }
                    let Some((header, header_len)) = parsed? else {
                        return Ok(None);
                    };
                    self.begin_frame(&header)?;
                    self.input.advance(header_len);
                    self.frame = Some((header, 0));
                    (header, 0)
                }
            };
            let data = !header.opcode.is_control();
            let arrived = self.input.len().min(header.len);
            let whole = unmasked == 0 && arrived == header.len && header.fin;
            if data && !whole && self.message.is_none() {
                self.message = Some(Box::new(Partial::new(header.opcode == OpCode::Text)));
            }
            let fresh = &mut self.input[unmasked..arrived];
            unmask(fresh, header.mask, unmasked);
            if let Some(message) = self.message.as_mut().filter(|message| data && message.text) {
                message
                    .utf8
                    .feed(fresh)
                    .map_err(|_| FrameError::InvalidUtf8)?;
            }
            if arrived < header.len {
                self.frame = Some((header, arrived));
                return Ok(None);
            }
            self.frame = None;
            if header.opcode.is_control() {
                let payload = self.take(header.len);
                self.closed = header.opcode == OpCode::Close;
                return control(header.opcode, payload).map(Some);
            }
            let Some(mut message) = self.message.take() else {
                let payload = self.take(header.len);
                return data_message(header.opcode == OpCode::Text, payload).map(Some);
            };
            if message.payload.is_empty() {
                message.payload = self.input.split_to(header.len);
            } else {
                message.payload.extend_from_slice(&self.input[..header.len]);
                self.input.advance(header.len);
            }
            if !header.fin {
                self.message = Some(message);
                continue;
            }
            self.limits.release(message.held);
            message.utf8.finish().map_err(|_| FrameError::InvalidUtf8)?;
            let Partial { text, payload, .. } = *message;
            return data_message(text, payload.freeze()).map(Some);
        }
    }

    /// A frame's header arrived: it must fit the message it belongs to.
    fn begin_frame(&mut self, header: &Header) -> Result<(), ReadError> {
        match (header.opcode, self.message.as_mut()) {
            (OpCode::Text | OpCode::Binary, Some(_)) => Err(FrameError::Protocol(
                "a new message inside a fragmented one",
            ))?,
            (OpCode::Continuation, None) => {
                Err(FrameError::Protocol("a continuation with no message"))?
            }
            (OpCode::Continuation, Some(message)) => {
                message.frames += 1;
                if message.frames > self.limits.max_frames {
                    return Err(InboundLimit::TooManyFrames.into());
                }
                if message.payload.len() + header.len > self.max_message {
                    return Err(FrameError::TooBig.into());
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Takes a complete payload off the input.
    fn take(&mut self, len: usize) -> Bytes {
        if len <= COPY_UP_TO {
            let payload = Bytes::copy_from_slice(&self.input[..len]);
            self.input.advance(len);
            payload
        } else {
            self.input.split_to(len).freeze()
        }
    }

    /// The input ends inside a data message: reserve what it holds in the app's budget.
    fn hold(&mut self) -> Result<(), ReadError> {
        let Some(message) = self.message.as_mut() else {
            return Ok(());
        };
        let holds = message.payload.len() + self.input.len();
        if holds > message.held {
            let more = holds - message.held;
            if !self.limits.reserve(more) {
                return Err(InboundLimit::OverBudget.into());
            }
            message.held = holds;
        }
        Ok(())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(message) = self.message.take() {
            self.limits.release(message.held);
        }
    }
}

impl Partial {
    fn new(text: bool) -> Self {
        Self {
            text,
            payload: BytesMut::new(),
            frames: 1,
            utf8: Utf8Stream::default(),
            held: 0,
        }
    }
}

fn data_message(text: bool, payload: Bytes) -> Result<Message, ReadError> {
    if text {
        let text = Utf8Bytes::try_from(payload).map_err(|_| FrameError::InvalidUtf8)?;
        Ok(Message::Text(text))
    } else {
        Ok(Message::Binary(payload))
    }
}

fn control(opcode: OpCode, payload: Bytes) -> Result<Message, ReadError> {
    Ok(match opcode {
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        _ => Message::Close(
            check_close_payload(&payload)?.map(|(code, reason)| CloseFrame {
                code: CloseCode::from(code),
                reason: Utf8Bytes::from(reason),
            }),
        ),
    })
}

#[cfg(test)]
mod tests;
