//! [`Target`]: a set of clients to send to or count, on this instance and (with a backplane)
//! the others.

use super::member::Member;
use super::Hub;
use crate::base::envelope::{event_message, json_text};
use crate::base::ids::ConnectionId;
use crate::hub::backplane::ClusterEvent;
use serde::Serialize;
use std::sync::Arc;
use tungstenite::{Message, Utf8Bytes};

/// Which clients a hub message is for, before exceptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every client.
    All,
    /// The clients of one endpoint path.
    Path(String),
    /// The members of one room.
    Room(String),
}

/// A set of clients to send to: [`Hub::all`], [`Hub::path`] or [`Hub::room`], minus
/// [`except`](Target::except)ions.
///
/// ```
/// # fn demo(hub: gateway::hub::Hub, me: gateway::connection::ConnectionId) {
/// let lobby = hub.room("lobby");
/// println!("{} in the lobby", lobby.count());
/// hub.room("lobby").except(me).emit("said", &"hi");
/// # }
/// ```
#[must_use = "a target sends nothing until `send` is called"]
#[derive(Debug)]
pub struct Target<'hub> {
    hub: &'hub Hub,
    scope: Scope,
    except: Vec<ConnectionId>,
}

impl<'hub> Target<'hub> {
    pub(super) fn new(hub: &'hub Hub, scope: Scope) -> Self {
        Self {
            hub,
            scope,
            except: Vec::new(),
        }
    }

    /// Leaves one client out (typically the sender).
    pub fn except(mut self, id: ConnectionId) -> Self {
        self.except.push(id);
        self
    }

    /// Queues `message` for every client in the target; returns how many local clients got it
    /// (with a backplane, the other instances deliver to theirs). The message's bytes are
    /// shared, not copied, between recipients.
    pub fn send(self, message: impl Into<Message>) -> usize {
        let message = message.into();
        let delivered = self
            .hub
            .local()
            .visit(&self.scope, &self.except, |_, member| {
                // In a cluster, a resumable session takes it from the journal.
                if !member.value.takes_fan_out() {
                    return true;
                }
                self.hub
                    .deliver(member.value.as_ref(), message.clone())
                    .is_ok()
            });
        if let Some(cluster) = self.hub.cluster() {
            cluster.publish(ClusterEvent::Deliver {
                scope: self.scope,
                except: self.except,
                message,
            });
        }
        delivered
    }

    /// Encodes `value` as JSON once and sends it as a text message to every client in the
    /// target; returns how many local clients got it. A value that cannot be encoded (a bug:
    /// a failing `Serialize` impl, a map with non-string keys) is logged and sent to no one.
    pub fn send_json<T: Serialize + ?Sized>(self, value: &T) -> usize {
        json_text(value).map_or(0, |text| self.send(Message::Text(Utf8Bytes::from(text))))
    }

    /// Sends the event `{"event": event, "data": data}` (the gateway's wire format, encoded
    /// once) to every client in the target; returns how many local clients got it. A `data`
    /// that cannot be encoded is logged and sent to no one.
    ///
    /// ```
    /// # fn demo(hub: gateway::hub::Hub) {
    /// hub.room("auction-7").emit("bid", &serde_json::json!({"amount": 120}));
    /// # }
    /// ```
    pub fn emit<T: Serialize + ?Sized>(self, event: &str, data: &T) -> usize {
        event_message(event, data).map_or(0, |message| self.send(message))
    }

    /// The ids of the clients in the target, on every instance.
    pub fn members(&self) -> Vec<ConnectionId> {
        let mut ids = Vec::new();
        self.visit_all(|id, _| {
            ids.push(id);
            true
        });
        ids
    }

    /// The clients in the target with their presence text (see
    /// [`Connection::set_presence`](crate::Connection::set_presence)), on every instance.
    pub fn presence(&self) -> Vec<(ConnectionId, Option<String>)> {
        let mut found = Vec::new();
        self.visit_all(|id, presence| {
            found.push((id, presence.map(str::to_owned)));
            true
        });
        found
    }

    /// The clients in the target on this instance.
    pub(crate) fn local_members(&self) -> Vec<(ConnectionId, Arc<dyn Member>)> {
        let mut found = Vec::new();
        self.hub
            .local()
            .visit(&self.scope, &self.except, |id, member| {
                found.push((id, Arc::clone(&member.value)));
                true
            });
        found
    }

    /// How many clients are in the target, on every instance.
    pub fn count(&self) -> usize {
        self.visit_all(|_, _| true)
    }

    /// Calls `visit` with the id and presence of each member in the target, local ones first;
    /// returns how many visits returned `true`.
    fn visit_all(&self, mut visit: impl FnMut(ConnectionId, Option<&str>) -> bool) -> usize {
        let here = self
            .hub
            .local()
            .visit(&self.scope, &self.except, |id, member| {
                visit(id, member.presence.as_deref())
            });
        let elsewhere = self.hub.cluster().map_or(0, |cluster| {
            cluster.visit(&self.scope, &self.except, |id, member| {
                visit(id, member.presence.as_deref())
            })
        });
        here + elsewhere
    }
}
