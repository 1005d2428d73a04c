//! [`Backplane`]: carries hub traffic and presence between server instances.

#[cfg(feature = "redis")]
pub(crate) use super::wire::{decode, encode, peek};

use crate::base::ids::ConnectionId;
use crate::hub::{Scope, WeakHub};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tungstenite::Message;

/// Carries what one instance's [`Hub`](crate::Hub) does to the other instances of the same
/// service: every send (broadcast, path, room, except, `send_to`) is published once and
/// delivered by each instance to its own clients, and every connect, disconnect, join, leave
/// and presence change is published so that [`Hub::connection_count`](crate::Hub::connection_count)
/// and [`Target::members`](crate::Target::members) answer for the whole cluster.
///
/// Give one to [`App::backplane`](crate::App::backplane). There are two: [`LocalBackplane`], the
/// default, for a single instance (it carries nothing and costs nothing), and `RedisBackplane`
/// (cargo feature `redis`) for several instances sharing one Redis.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::backplane::LocalBackplane;
///
/// // What every app has unless told otherwise: one instance.
/// let app = App::new().backplane(LocalBackplane);
/// ```
pub trait Backplane: sealed::Link {}

/// The backplane of a single instance: every client is local, so there is nothing to carry.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::backplane::LocalBackplane;
///
/// let app = App::new().backplane(LocalBackplane); // the same as no `.backplane(..)` at all
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalBackplane;

impl Backplane for LocalBackplane {}

impl sealed::Link for LocalBackplane {
    fn attach(&self) -> Option<Attached> {
        None
    }
}

/// What a backplane gives the hub it is attached to.
pub struct Attached {
    /// This instance's number in the cluster, 1 to [`MAX_INSTANCE`]: the high bits of its
    /// connection ids, so ids are unique across instances.
    pub instance: u16,
    /// Where the hub hands what other instances must hear about.
    pub outbox: Arc<dyn Fn(ClusterEvent) + Send + Sync>,
    /// How full the outbox is: while it is high, clients are not read (see [`Pressure`]).
    pub pressure: Arc<Pressure>,
    /// Starts carrying traffic; called once the hub is ready to receive it.
    pub start: Box<dyn FnOnce(WeakHub) + Send>,
}

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attached")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// Backpressure from the backplane: while its queue to the other instances is more than half
/// full (the backend is up but slower than the senders), the connection loops stop reading
/// their clients, so the clients whose messages fill it are slowed down instead of anyone's
/// message being dropped; reading resumes once the queue is down to a quarter.
#[derive(Debug, Default)]
pub struct Pressure {
    high: AtomicBool,
    eased: tokio::sync::Notify,
}

impl Pressure {
    /// Whether clients should not be read now.
    pub(crate) fn is_high(&self) -> bool {
        self.high.load(Ordering::Acquire)
    }

    /// Waits until clients may be read again.
    pub(crate) async fn eased(&self) {
        let notified = self.eased.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_high() {
            notified.await;
        }
    }

    /// The queue is past its high mark.
    #[cfg(feature = "redis")]
    pub(crate) fn rise(&self) {
        self.high.store(true, Ordering::Release);
    }

    /// The queue is down to its low mark (or the backend is away, and holding readers back
    /// would only stall the instance).
    #[cfg(feature = "redis")]
    pub(crate) fn ease(&self) {
        if self.high.swap(false, Ordering::AcqRel) {
            self.eased.notify_waiters();
        }
    }
}

#[cfg(feature = "redis")]
/// The highest instance number (0 is a single instance's).
pub(crate) const MAX_INSTANCE: u16 = u16::MAX;

/// One thing an instance tells the others.
#[derive(Debug, Clone, PartialEq)]
pub enum ClusterEvent {
    /// A hub send: deliver `message` to the local clients in `scope` but not in `except`.
    Deliver {
        scope: Scope,
        except: Vec<ConnectionId>,
        message: Message,
    },
    /// `Hub::send_to` a client of another instance.
    DeliverTo { id: ConnectionId, message: Message },
    /// A client connected to `path`.
    Connected { id: ConnectionId, path: Arc<str> },
    /// A client disconnected (it was in `rooms`).
    Disconnected {
        id: ConnectionId,
        rooms: Vec<Arc<str>>,
    },
    /// A client joined a room.
    Joined { id: ConnectionId, room: Arc<str> },
    /// A client left a room.
    Left { id: ConnectionId, room: Arc<str> },
    /// A client's presence text changed.
    Presence {
        id: ConnectionId,
        presence: Arc<str>,
    },
    /// The sender is alive (sent periodically).
    Heartbeat,
    /// The sender has (re)written its whole presence to the shared store: reload it.
    Announce,
    /// Let resumable session `token` go: its client resumed on the sending instance.
    Release { token: Arc<str> },
    /// The answer to `Release`, sent to instance `to` once the session is no longer served
    /// here (or was not).
    Released { token: Arc<str>, to: u16 },
    /// Store a resumable session's checkpoint, what another instance needs to resume it
    /// (never sent to other instances: written to Redis).
    Checkpoint {
        token: Arc<str>,
        record: bytes::Bytes,
        /// How long the session may wait for its client (Redis keeps the record that long
        /// after its instance is last heard from).
        window_ms: u64,
    },
    /// A resumable session ended for good: forget its checkpoint (written to Redis).
    Forget { token: Arc<str> },
    /// The sender dropped sends since its last events (its queue to Redis was full): a
    /// resumable session anywhere may have missed one, so every one is lost (journaled).
    Dropped,
}

impl ClusterEvent {
    #[cfg(feature = "redis")]
    /// About how many bytes the event carries: payload, names, texts, exceptions (what a
    /// backplane's queue budget counts, and what a frame needs besides its header).
    pub(crate) fn weight(&self) -> usize {
        match self {
            ClusterEvent::Deliver {
                scope,
                except,
                message,
            } => {
                let name = match scope {
                    Scope::All => 0,
                    Scope::Path(name) | Scope::Room(name) => name.len(),
                };
                message.len() + name + except.len() * 8
            }
            ClusterEvent::DeliverTo { message, .. } => message.len(),
            ClusterEvent::Connected { path: text, .. }
            | ClusterEvent::Joined { room: text, .. }
            | ClusterEvent::Left { room: text, .. }
            | ClusterEvent::Presence { presence: text, .. } => text.len(),
            ClusterEvent::Disconnected { rooms, .. } => rooms.iter().map(|room| room.len()).sum(),
            ClusterEvent::Heartbeat | ClusterEvent::Announce | ClusterEvent::Dropped => 0,
            ClusterEvent::Release { token }
            | ClusterEvent::Released { token, .. }
            | ClusterEvent::Forget { token } => token.len(),
            ClusterEvent::Checkpoint { token, record, .. } => token.len() + record.len(),
        }
    }

    #[cfg(feature = "redis")]
    /// Whether it is a send (a message for clients).
    pub(crate) fn is_send(&self) -> bool {
        matches!(
            self,
            ClusterEvent::Deliver { .. } | ClusterEvent::DeliverTo { .. }
        )
    }

    #[cfg(feature = "redis")]
    /// Whether the journal of resumable sessions records it: every send and every change to
    /// who is where.
    pub(crate) fn journaled(&self) -> bool {
        !matches!(
            self,
            ClusterEvent::Heartbeat
                | ClusterEvent::Announce
                | ClusterEvent::Release { .. }
                | ClusterEvent::Released { .. }
                | ClusterEvent::Checkpoint { .. }
                | ClusterEvent::Forget { .. }
        )
    }

    #[cfg(feature = "redis")]
    /// The client a presence fact is about.
    pub(crate) fn member(&self) -> Option<ConnectionId> {
        match self {
            ClusterEvent::Connected { id, .. }
            | ClusterEvent::Disconnected { id, .. }
            | ClusterEvent::Joined { id, .. }
            | ClusterEvent::Left { id, .. }
            | ClusterEvent::Presence { id, .. } => Some(*id),
            _ => None,
        }
    }
}

pub(crate) mod sealed {
    /// What a backplane does; not implementable outside this crate.
    pub trait Link: Send + Sync + 'static {
        /// Connects the backplane to a hub; `None` when there is nothing to carry.
        fn attach(&self) -> Option<super::Attached>;
    }
}
