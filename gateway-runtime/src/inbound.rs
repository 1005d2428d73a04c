//! What the transport knows of the client's frames as their bytes pass through to tungstenite:
//! where each frame ends, which message is still incomplete, and the bounds on incomplete
//! messages: frames per message, a deadline to complete one, and an app-wide budget of the bytes
//! they hold. tungstenite enforces the size of one message; these bound what a client can hold
//! by *not* finishing its messages (a slowloris for frames, endless empty continuation frames).
//!
//! Bytes are handed to tungstenite up to the end of the current frame and no further, so when
//! tungstenite returns a message it holds no byte of the next one: the session can then replace
//! tungstenite's buffers (grown by a large message) with fresh, small ones.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// How many frames one message may have by default. Browsers send a message as one frame;
/// libraries that fragment use frames of kilobytes, so 1,024 covers a 1 MiB message in 1 KiB
/// pieces, while endless empty continuation frames end quickly.
pub const DEFAULT_MAX_FRAMES: u32 = 1024;

/// How long a client may take to complete a message it started, by default.
pub const DEFAULT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// How many bytes all incomplete messages of the app may hold at once, by default: 64 MiB.
pub const DEFAULT_INBOUND_BUDGET: usize = 64 << 20;

/// The bounds one app puts on incomplete messages (shared by all its connections).
#[derive(Debug)]
pub(crate) struct InboundLimits {
    pub(crate) max_frames: u32,
    pub(crate) message_timeout: Duration,
    budget: usize,
    /// Bytes held by incomplete messages now, app-wide.
    held: AtomicUsize,
}

impl InboundLimits {
    pub(crate) fn new(max_frames: u32, message_timeout: Duration, budget: usize) -> Self {
        Self {
            max_frames,
            message_timeout,
            budget,
            held: AtomicUsize::new(0),
        }
    }

    fn reserve(&self, bytes: usize) -> bool {
        let before = self.held.fetch_add(bytes, Ordering::AcqRel);
        if before + bytes > self.budget {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            return false;
        }
        true
    }

    fn release(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// No incomplete message holds anything.
    pub(crate) fn is_idle(&self) -> bool {
        self.held.load(Ordering::Acquire) == 0
    }
}

/// A client went past one of the bounds on incomplete messages. The session closes it with
/// [`close`](Self::close)'s code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InboundLimit {
    #[error("a message has more frames than allowed")]
    TooManyFrames,
    #[error("a message was not completed in time")]
    Timeout,
    #[error("incomplete messages hold the app's whole inbound budget")]
    OverBudget,
}

impl InboundLimit {
    /// The close code and reason the client gets.
    pub(crate) fn close(self) -> (u16, &'static str) {
        use crate::close::close_code;
        match self {
            Self::TooManyFrames => (close_code::MESSAGE_TOO_BIG, "too many frames"),
            Self::Timeout => (close_code::POLICY_VIOLATION, "message timeout"),
            Self::OverBudget => (close_code::TRY_AGAIN_LATER, "server busy"),
        }
    }
}

/// Follows the client's frames through their headers.
#[derive(Debug)]
pub(crate) struct Frames {
    limits: Arc<InboundLimits>,
    /// A frame header read so far (at most 14 bytes: 2, 8 of length, 4 of mask).
    header: [u8; 14],
    header_len: u8,
    /// Payload bytes of the current frame not handed out yet.
    remaining: u64,
    /// The current frame belongs to a data message (not a control frame).
    data_frame: bool,
    /// The current data frame is its message's last.
    last_frame: bool,
    message: Message,
}

/// The data message being received.
#[derive(Debug, Default)]
struct Message {
    frames: u32,
    /// Payload bytes handed out for it so far.
    bytes: usize,
    /// Of those, the bytes reserved in the app's budget (only for messages that stay
    /// incomplete past one hand-out, so a message that arrives whole touches no shared counter).
    held: usize,
    /// When it was first seen incomplete.
    started: Option<Instant>,
    /// Its deadline, once the socket had nothing more while it was incomplete.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Frames {
    pub(crate) fn new(limits: Arc<InboundLimits>) -> Self {
        Self {
            limits,
            header: [0; 14],
            header_len: 0,
            remaining: 0,
            data_frame: false,
            last_frame: false,
            message: Message::default(),
        }
    }

    /// Between messages: no frame partly handed out, no data message incomplete.
    pub(crate) fn at_message_boundary(&self) -> bool {
        self.header_len == 0 && self.remaining == 0 && self.message.frames == 0
    }

    /// How many of `bytes` (the next bytes from the client) to hand to tungstenite: up to the end
    /// of the current frame.
    pub(crate) fn advance(&mut self, bytes: &[u8]) -> Result<usize, InboundLimit> {
        let mut used = 0;
        while used < bytes.len() {
            if self.remaining > 0 {
                let take =
                    (bytes.len() - used).min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                self.remaining -= take as u64;
                used += take;
                if self.data_frame {
                    self.message.bytes += take;
                }
            } else {
                self.header[usize::from(self.header_len)] = bytes[used];
                self.header_len += 1;
                used += 1;
                if !self.header_complete() {
                    continue;
                }
                self.start_frame()?;
            }
            if self.remaining == 0 && self.header_len == 0 {
                self.end_frame();
                break;
            }
        }
        self.hold()?;
        Ok(used)
    }

    /// Polls the incomplete message's deadline (when there is one) while the socket has nothing
    /// more: `Ready` when it has passed.
    pub(crate) fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<InboundLimit> {
        let Some(started) = self.message.started else {
            return Poll::Pending;
        };
        let deadline = started + self.limits.message_timeout;
        let timer = self
            .message
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        timer.as_mut().poll(cx).map(|()| InboundLimit::Timeout)
    }

    fn header_complete(&self) -> bool {
        let len = usize::from(self.header_len);
        if len < 2 {
            return false;
        }
        len == header_size(self.header[1])
    }

    /// The header is complete: check the frame against the message's bounds.
    fn start_frame(&mut self) -> Result<(), InboundLimit> {
        let size = header_size(self.header[1]);
        let length = match self.header[1] & 0x7f {
            126 => u64::from(u16::from_be_bytes([self.header[2], self.header[3]])),
            127 => u64::from_be_bytes(self.header[2..10].try_into().expect("8 bytes")),
            short => u64::from(short),
        };
        debug_assert_eq!(usize::from(self.header_len), size);
        self.header_len = 0;
        self.remaining = length;
        // Opcodes 0x8 and above are control frames (ping, pong, close): never part of a message.
        self.data_frame = self.header[0] & 0x08 == 0;
        self.last_frame = self.header[0] & 0x80 != 0;
        if self.data_frame {
            self.message.frames += 1;
            if self.message.frames > self.limits.max_frames {
                return Err(InboundLimit::TooManyFrames);
            }
        }
        Ok(())
    }

    fn end_frame(&mut self) {
        if self.data_frame && self.last_frame {
            self.limits.release(self.message.held);
            self.message = Message::default();
        }
    }

    /// Reserves in the app's budget what the incomplete message holds, and starts its clock.
    fn hold(&mut self) -> Result<(), InboundLimit> {
        if self.message.frames == 0 {
            return Ok(());
        }
        self.message.started.get_or_insert_with(Instant::now);
        let more = self.message.bytes - self.message.held;
        if more > 0 {
            if !self.limits.reserve(more) {
                return Err(InboundLimit::OverBudget);
            }
            self.message.held += more;
        }
        Ok(())
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        self.limits.release(self.message.held);
    }
}

/// A client frame's header size, from its second byte: 2, the extended length, the 4-byte mask.
fn header_size(second: u8) -> usize {
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max_frames: u32, budget: usize) -> Frames {
        Frames::new(Arc::new(InboundLimits::new(
            max_frames,
            DEFAULT_MESSAGE_TIMEOUT,
            budget,
        )))
    }

    /// A masked client frame (mask bytes zero).
    fn frame(fin: bool, opcode: u8, payload_len: usize) -> Vec<u8> {
        let mut bytes = vec![u8::from(fin) << 7 | opcode];
        match payload_len {
            0..=125 => bytes.push(0x80 | payload_len as u8),
            126..=65535 => {
                bytes.push(0x80 | 126);
                bytes.extend((payload_len as u16).to_be_bytes());
            }
            _ => {
                bytes.push(0x80 | 127);
                bytes.extend((payload_len as u64).to_be_bytes());
            }
        }
        bytes.extend([0; 4]);
        bytes.extend(std::iter::repeat_n(b'x', payload_len));
        bytes
    }

    #[test]
    fn hands_out_up_to_the_end_of_each_frame() {
        let mut frames = frames(16, 1 << 20);
        let mut wire = frame(true, 1, 3);
        wire.extend(frame(true, 2, 300));
        let first = frames.advance(&wire).unwrap();
        assert_eq!(first, 9);
        assert!(frames.at_message_boundary());
        assert_eq!(frames.advance(&wire[first..]).unwrap(), 300 + 8);
        assert!(frames.at_message_boundary());
    }

    #[test]
    fn a_header_split_across_reads_is_followed() {
        let mut frames = frames(16, 1 << 20);
        let wire = frame(true, 2, 70_000);
        for byte in &wire[..5] {
            assert_eq!(frames.advance(std::slice::from_ref(byte)).unwrap(), 1);
            assert!(!frames.at_message_boundary());
        }
        assert_eq!(frames.advance(&wire[5..]).unwrap(), wire.len() - 5);
        assert!(frames.at_message_boundary());
    }

    #[test]
    fn control_frames_inside_a_fragmented_message_keep_it_open() {
        let mut frames = frames(16, 1 << 20);
        frames.advance(&frame(false, 1, 10)).unwrap();
        frames.advance(&frame(true, 9, 4)).unwrap(); // a ping between fragments
        assert!(!frames.at_message_boundary());
        frames.advance(&frame(true, 0, 10)).unwrap();
        assert!(frames.at_message_boundary());
    }

    #[test]
    fn endless_empty_continuations_are_refused() {
        let mut frames = frames(4, 1 << 20);
        frames.advance(&frame(false, 1, 0)).unwrap();
        for _ in 0..3 {
            frames.advance(&frame(false, 0, 0)).unwrap();
        }
        assert_eq!(
            frames.advance(&frame(false, 0, 0)),
            Err(InboundLimit::TooManyFrames)
        );
    }

    #[test]
    fn incomplete_messages_share_one_budget() {
        let limits = Arc::new(InboundLimits::new(16, DEFAULT_MESSAGE_TIMEOUT, 1000));
        let mut first = Frames::new(Arc::clone(&limits));
        let mut second = Frames::new(Arc::clone(&limits));
        let wire = frame(true, 2, 5000);
        first.advance(&wire[..600]).unwrap();
        assert_eq!(second.advance(&wire[..600]), Err(InboundLimit::OverBudget));
        first.advance(&wire[600..]).unwrap();
        assert_eq!(
            limits.held.load(Ordering::Acquire),
            0,
            "released when complete"
        );
        let mut third = Frames::new(Arc::clone(&limits));
        third.advance(&wire[..600]).unwrap();
        drop(third);
        assert_eq!(
            limits.held.load(Ordering::Acquire),
            0,
            "released when dropped"
        );
    }

    #[test]
    fn the_fuzz_entry_point_holds_for_any_piece_size() {
        let mut wire = frame(false, 1, 300);
        wire.extend(frame(true, 9, 5));
        wire.extend(frame(true, 0, 70_000));
        wire.extend(frame(false, 2, 100_000)); // left incomplete
        for piece in [1u8, 3, 14, 200, 255] {
            let mut data = vec![piece];
            data.extend(&wire);
            crate::__fuzz::inbound_frames(&data);
        }
    }

    #[test]
    fn whole_messages_reserve_nothing() {
        let limits = Arc::new(InboundLimits::new(16, DEFAULT_MESSAGE_TIMEOUT, 10));
        let mut frames = Frames::new(Arc::clone(&limits));
        frames.advance(&frame(true, 2, 5000)).unwrap();
        assert_eq!(limits.held.load(Ordering::Acquire), 0);
    }
}
