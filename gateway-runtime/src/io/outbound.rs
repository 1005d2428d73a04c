//! A client's outbound queue (a WebSocket connection's messages, an SSE client's events):
//! bounded in items and bytes, and free while empty (a `VecDeque` allocates nothing until the
//! first item; an idle connection holds no buffer).
//!
//! A client is slow when its queue *stays* over the bound, not when one burst filled it: a
//! sender can queue a burst for many clients before their tasks get a turn to write, while their
//! sockets are perfectly writable. So the bound is soft: past it messages are still queued, up to
//! twice the bound (a hard limit on memory), until the queue has been over the bound for the
//! slow-consumer timeout. Only then, or at the hard limit, does a push fail.

use crate::base::send::payload;
use crate::base::send::SendError;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;
use tungstenite::Message;

/// What a queued item counts against the byte bound.
pub(crate) trait Weighed {
    fn weight(&self) -> usize;
}

impl Weighed for Message {
    fn weight(&self) -> usize {
        payload(self).len()
    }
}

impl Weighed for bytes::Bytes {
    fn weight(&self) -> usize {
        self.len()
    }
}

pub(crate) struct Outbound<T = Message> {
    queue: Mutex<Queue<T>>,
    /// Messages in `queue`, readable without the lock: the loop checks it after every message.
    queued: AtomicUsize,
    max_messages: usize,
    max_bytes: usize,
    /// How long the queue may stay over the bound.
    slow_after: Duration,
}

struct Queue<T> {
    messages: VecDeque<T>,
    /// Payload bytes in `messages`.
    bytes: usize,
    /// The connection has ended: nothing more is accepted.
    closed: bool,
    /// Since when the queue has been over the bound.
    over_since: Option<Instant>,
}

impl<T: Weighed> Outbound<T> {
    pub(crate) fn new(max_messages: usize, max_bytes: usize, slow_after: Duration) -> Self {
        Self {
            queue: Mutex::new(Queue {
                messages: VecDeque::new(),
                bytes: 0,
                closed: false,
                over_since: None,
            }),
            queued: AtomicUsize::new(0),
            max_messages,
            max_bytes,
            slow_after,
        }
    }

    /// Queues `message` unless the connection ended or the client is slow (see the module's
    /// docs). One message larger than the whole byte bound still goes through an empty queue.
    pub(crate) fn push(&self, message: T) -> Result<(), SendError> {
        let size = message.weight();
        let mut queue = self.lock();
        if queue.closed {
            return Err(SendError::Closed);
        }
        let over = |factor: usize| {
            queue.messages.len() >= self.max_messages * factor
                || (!queue.messages.is_empty() && queue.bytes + size > self.max_bytes * factor)
        };
        if over(2) {
            return Err(SendError::QueueFull);
        }
        if over(1) {
            let now = Instant::now();
            let since = *queue.over_since.get_or_insert(now);
            if now.duration_since(since) >= self.slow_after {
                return Err(SendError::QueueFull);
            }
        }
        queue.bytes += size;
        queue.messages.push_back(message);
        self.queued.store(queue.messages.len(), Ordering::Release);
        Ok(())
    }

    /// The oldest queued message.
    pub(crate) fn pop(&self) -> Option<T> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut queue = self.lock();
        let message = queue.messages.pop_front()?;
        queue.bytes -= message.weight();
        self.taken(&mut queue);
        Some(message)
    }

    /// The oldest queued messages, up to `bytes` of payload (at least one), taken with one lock:
    /// a burst is written in a row. What is taken no longer counts against the bounds, so
    /// `bytes` is what may be held beyond them.
    pub(crate) fn pop_batch(&self, bytes: usize) -> VecDeque<T> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return VecDeque::new();
        }
        let mut queue = self.lock();
        let batch = if queue.bytes <= bytes {
            queue.bytes = 0;
            std::mem::take(&mut queue.messages)
        } else {
            let mut batch = VecDeque::new();
            let mut taken = 0;
            while let Some(message) = queue.messages.pop_front() {
                taken += message.weight();
                batch.push_back(message);
                if queue
                    .messages
                    .front()
                    .is_none_or(|next| taken + next.weight() > bytes)
                {
                    break;
                }
            }
            queue.bytes -= taken;
            batch
        };
        self.taken(&mut queue);
        batch
    }

    /// Bookkeeping after messages left the queue.
    fn taken(&self, queue: &mut Queue<T>) {
        self.queued.store(queue.messages.len(), Ordering::Release);
        if queue.over_since.is_some()
            && queue.messages.len() < self.max_messages
            && queue.bytes <= self.max_bytes
        {
            queue.over_since = None;
        }
        if queue.messages.is_empty() {
            // Give the memory back: a burst must not stay allocated on an idle connection.
            queue.messages = VecDeque::new();
        }
    }

    /// The connection ended: refuse new messages and drop the queued ones.
    pub(crate) fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.messages = VecDeque::new();
        self.queued.store(0, Ordering::Release);
        queue.bytes = 0;
    }

    /// Nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued.load(Ordering::Acquire) == 0
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn lock(&self) -> MutexGuard<'_, Queue<T>> {
        crate::base::sync::lock(&self.queue)
    }
}
