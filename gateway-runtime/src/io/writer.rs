//! What the connection's loop writes to its client, framed (by [`frame`](super::frame), the one
//! writer of frame headers) and waiting for the socket: headers and small payloads are copied
//! together, large payloads are shared as they are (a message sent to many is never copied), and
//! everything leaves in vectored writes. Nothing stays allocated once it is written.

use super::frame::{OpCode, ServerHeader};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{ready, Poll};
use tungstenite::Message;

/// Payloads up to this size are copied beside their header (one slice for many small frames);
/// larger ones are written from their own buffer.
const COPY_UP_TO: usize = 512;

/// How many slices one write takes at most (Linux's `IOV_MAX` is 1,024).
const SLICES_PER_WRITE: usize = 64;

/// Frames waiting to be written, in order.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    /// Written out in this order, before `staged`.
    chunks: VecDeque<Bytes>,
    /// Headers and small payloads after the last chunk.
    staged: BytesMut,
    /// Bytes in `chunks` and `staged`.
    len: usize,
}

impl Writer {
    /// Frames `message` after what waits already.
    pub(crate) fn push(&mut self, message: Message) {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::Text, Bytes::from(text)),
            Message::Binary(bytes) => (OpCode::Binary, bytes),
            Message::Ping(bytes) => (OpCode::Ping, bytes),
            Message::Pong(bytes) => (OpCode::Pong, bytes),
            Message::Close(frame) => (OpCode::Close, close_payload(frame)),
            // A frame made by hand goes out as it was made.
            Message::Frame(frame) => {
                let mut bytes = Vec::with_capacity(frame.len());
                if frame.format(&mut bytes).is_ok() {
                    self.push_raw(Bytes::from(bytes));
                }
                return;
            }
        };
        let header = ServerHeader::new(opcode, payload.len());
        self.staged.extend_from_slice(&header);
        self.len += header.len();
        if payload.len() <= COPY_UP_TO {
            self.staged.extend_from_slice(&payload);
            self.len += payload.len();
        } else {
            self.push_raw(payload);
        }
    }

    fn push_raw(&mut self, bytes: Bytes) {
        if !self.staged.is_empty() {
            self.chunks.push_back(self.staged.split().freeze());
        }
        self.len += bytes.len();
        self.chunks.push_back(bytes);
    }

    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes everything with `write` (a vectored write that may take part of what it is
    /// given), in order; then frees the buffers.
    pub(crate) fn poll_write_all(
        &mut self,
        mut write: impl FnMut(&[IoSlice<'_>]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<()>> {
        if !self.staged.is_empty() {
            self.chunks.push_back(self.staged.split().freeze());
        }
        while !self.chunks.is_empty() {
            let mut slices = [IoSlice::new(&[]); SLICES_PER_WRITE];
            let count = self.chunks.len().min(SLICES_PER_WRITE);
            for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slice = IoSlice::new(chunk);
            }
            let mut written = ready!(write(&slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.len -= written;
            while written > 0 {
                let Some(front) = self.chunks.front_mut() else {
                    break;
                };
                if written < front.len() {
                    front.advance(written);
                    break;
                }
                written -= front.len();
                self.chunks.pop_front();
            }
        }
        // Give the memory back: an idle connection holds no write buffer.
        *self = Self::default();
        Poll::Ready(Ok(()))
    }
}

/// A Close frame's payload: the code, then the reason (RFC 6455 §5.5.1).
fn close_payload(frame: Option<tungstenite::protocol::CloseFrame>) -> Bytes {
    let Some(frame) = frame else {
        return Bytes::new();
    };
    let mut payload = BytesMut::with_capacity(2 + frame.reason.len());
    payload.extend_from_slice(&u16::from(frame.code).to_be_bytes());
    payload.extend_from_slice(frame.reason.as_bytes());
    payload.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes with a writer that takes at most `most` bytes per call.
    fn drain(writer: &mut Writer, most: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let done = writer.poll_write_all(|slices| {
            let mut taken = 0;
            for slice in slices {
                let take = slice.len().min(most - taken);
                out.extend_from_slice(&slice[..take]);
                taken += take;
                if taken == most {
                    break;
                }
            }
            Poll::Ready(Ok(taken))
        });
        assert!(matches!(done, Poll::Ready(Ok(()))));
        out
    }

    #[test]
    fn frames_leave_whole_and_in_order_however_the_socket_takes_them() {
        let large = vec![9u8; 70_000];
        let messages = [
            Message::text("hi"),
            Message::binary(large.clone()),
            Message::Pong(Bytes::from_static(b"p")),
            Message::Close(Some(tungstenite::protocol::CloseFrame {
                code: 1000.into(),
                reason: "bye".into(),
            })),
        ];
        let mut expected = vec![0x81, 2, b'h', b'i', 0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70];
        expected.extend(&large);
        expected.extend([0x8a, 1, b'p', 0x88, 5, 0x03, 0xe8, b'b', b'y', b'e']);
        for most in [1, 3, 1000, usize::MAX] {
            let mut writer = Writer::default();
            for message in messages.clone() {
                writer.push(message);
            }
            assert_eq!(writer.len(), expected.len());
            assert_eq!(drain(&mut writer, most), expected, "{most} bytes per write");
            assert!(writer.is_empty());
        }
    }
}
