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
use std::io::Cursor;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tungstenite::protocol::frame::coding::OpCode;
use tungstenite::protocol::frame::FrameHeader;

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
    #[cfg(any(fuzzing, test))]
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

/// The longest frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER: usize = 14;

/// Follows the client's frames through their headers (decoded by tungstenite's own parser).
#[derive(Debug)]
pub(crate) struct Frames {
    limits: Arc<InboundLimits>,
    /// A frame header received so far, while it is incomplete.
    header: [u8; MAX_HEADER],
    header_len: u8,
    /// Payload bytes of the current frame not handed out yet.
    remaining: u64,
    /// The current frame belongs to a data message (not a control frame).
    data_frame: bool,
    /// The current data frame is its message's last.
    last_frame: bool,
    message: InProgress,
}

/// The data message being received.
#[derive(Debug, Default)]
struct InProgress {
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
            header: [0; MAX_HEADER],
            header_len: 0,
            remaining: 0,
            data_frame: false,
            last_frame: false,
            message: InProgress::default(),
        }
    }

    /// The app's bounds these frames are held to.
    pub(crate) fn limits(&self) -> &Arc<InboundLimits> {
        &self.limits
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
                let known = usize::from(self.header_len);
                let fresh = (MAX_HEADER - known).min(bytes.len() - used);
                self.header[known..known + fresh].copy_from_slice(&bytes[used..used + fresh]);
                let mut cursor = Cursor::new(&self.header[..known + fresh]);
                // Parsing a slice cannot fail; `None` means the header is incomplete.
                let Some((header, length)) = FrameHeader::parse(&mut cursor).ok().flatten() else {
                    self.header_len += fresh as u8;
                    used += fresh;
                    continue;
                };
                used += cursor.position() as usize - known;
                self.header_len = 0;
                self.start_frame(&header, length)?;
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

    /// A frame begins: check it against the message's bounds.
    fn start_frame(&mut self, header: &FrameHeader, length: u64) -> Result<(), InboundLimit> {
        self.remaining = length;
        // Control frames (ping, pong, close) are never part of a message.
        self.data_frame = !matches!(header.opcode, OpCode::Control(_));
        self.last_frame = header.is_final;
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
            self.message = InProgress::default();
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

    /// A masked client frame.
    fn frame(is_final: bool, opcode: u8, payload_len: usize) -> Vec<u8> {
        let header = FrameHeader {
            is_final,
            opcode: OpCode::from(opcode),
            mask: Some([0; 4]),
            ..FrameHeader::default()
        };
        let mut bytes = Vec::new();
        header.format(payload_len as u64, &mut bytes).unwrap();
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
