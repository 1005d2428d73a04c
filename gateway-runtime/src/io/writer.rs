//! What the connection's loop writes to its client, framed (by [`frame`](super::frame), the one
//! writer of frame headers) and waiting for the socket. A payload is never copied (a message
//! sent to many is written from the bytes they share), frames leave together in vectored
//! writes, and writing one frame allocates nothing: the first waits inline, only those behind
//! it take a queue, which is freed once it is written.

use super::frame::{OpCode, ServerHeader};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::task::{ready, Poll};
use tungstenite::Message;

/// How many frames one write takes at most (two slices each: header and payload).
const FRAMES_PER_WRITE: usize = 32;

/// One frame: its header and payload.
#[derive(Debug)]
struct Frame {
    header: ServerHeader,
    payload: Bytes,
}

/// Frames waiting to be written, in order.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    /// The frame being written, with how many of its bytes are written already.
    first: Option<(Frame, usize)>,
    /// The frames behind it.
    more: VecDeque<Frame>,
    /// Bytes waiting in all of them.
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
            // A frame made by hand goes out as it was made, header included.
            Message::Frame(frame) => {
                let mut bytes = Vec::with_capacity(frame.len());
                if frame.format(&mut bytes).is_ok() {
                    self.push_frame(ServerHeader::NONE, Bytes::from(bytes));
                }
                return;
            }
        };
        self.push_frame(ServerHeader::new(opcode, payload.len()), payload);
    }

    fn push_frame(&mut self, header: ServerHeader, payload: Bytes) {
        self.len += header.len() + payload.len();
        let frame = Frame { header, payload };
        if self.first.is_none() {
            self.first = Some((frame, 0));
        } else {
            self.more.push_back(frame);
        }
    }

    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes everything with `write` (a vectored write that may take part of what it is
    /// given), in order; then frees the queue.
    pub(crate) fn poll_write_all(
        &mut self,
        mut write: impl FnMut(&[IoSlice<'_>]) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<()>> {
        while let Some((first, done)) = &self.first {
            let mut slices = [IoSlice::new(&[]); 2 * FRAMES_PER_WRITE];
            let mut count = 0;
            let (header, payload) = (&*first.header, &first.payload[..]);
            for part in [
                header.get(*done..).unwrap_or_default(),
                &payload[done.saturating_sub(header.len())..],
            ] {
                if !part.is_empty() {
                    slices[count] = IoSlice::new(part);
                    count += 1;
                }
            }
            for frame in self.more.iter().take(FRAMES_PER_WRITE - 1) {
                for part in [&*frame.header, &frame.payload[..]] {
                    if !part.is_empty() {
                        slices[count] = IoSlice::new(part);
                        count += 1;
                    }
                }
            }
            let written = ready!(write(&slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(written);
        }
        // Give the memory back: an idle connection holds no queue.
        self.more = VecDeque::new();
        Poll::Ready(Ok(()))
    }

    /// `written` more bytes left, from the first frame on.
    fn advance(&mut self, mut written: usize) {
        self.len -= written;
        while let Some((first, done)) = &mut self.first {
            let left = first.header.len() + first.payload.len() - *done;
            if written < left {
                *done += written;
                return;
            }
            written -= left;
            self.first = self.more.pop_front().map(|frame| (frame, 0));
        }
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
            assert_eq!(writer.len(), 0);
        }
    }
}
