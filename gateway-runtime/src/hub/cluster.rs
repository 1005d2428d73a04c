//! [`Cluster`]: what a hub knows about the other instances of its service, kept up to date
//! from the events their backplane delivers.

use super::registry::{Member, Registry};
use super::Scope;
use crate::base::ids::ConnectionId;
use crate::hub::backplane::{ClusterEvent, Pressure};
use std::sync::{Arc, RwLock, RwLockReadGuard};
#[cfg(feature = "redis")]
use std::{
    collections::HashMap,
    sync::{Mutex, RwLockWriteGuard},
    time::{Duration, Instant},
};

pub(crate) struct Cluster {
    instance: u16,
    outbox: Arc<dyn Fn(ClusterEvent) + Send + Sync>,
    pressure: Arc<Pressure>,
    /// The other instances' connections.
    /// The other instances' clients, each with the instance it is on (a resumed session may be
    /// on another instance than the one that gave it its id).
    remote: RwLock<Registry<u16>>,
    /// When each other instance was last heard from.
    #[cfg(feature = "redis")]
    heard: Mutex<HashMap<u16, Instant>>,
}

impl Cluster {
    pub(crate) fn new(
        instance: u16,
        outbox: Arc<dyn Fn(ClusterEvent) + Send + Sync>,
        pressure: Arc<Pressure>,
    ) -> Self {
        Self {
            instance,
            outbox,
            pressure,
            remote: RwLock::default(),
            #[cfg(feature = "redis")]
            heard: Mutex::default(),
        }
    }

    /// This instance's number.
    pub(crate) fn instance(&self) -> u16 {
        self.instance
    }

    /// How full the backplane's queue is.
    pub(crate) fn pressure(&self) -> &Pressure {
        &self.pressure
    }

    /// Hands an event to the backplane for the other instances.
    pub(crate) fn publish(&self, event: ClusterEvent) {
        (self.outbox)(event);
    }

    /// Whether a client of another instance is connected.
    pub(crate) fn knows(&self, id: ConnectionId) -> bool {
        self.remote().members.contains_key(&id)
    }

    /// The instance a client of another instance is on.
    #[cfg(feature = "redis")]
    pub(crate) fn location(&self, id: ConnectionId) -> Option<u16> {
        self.remote().members.get(&id).map(|member| member.value)
    }

    /// How many clients the other instances have.
    pub(crate) fn count(&self) -> usize {
        self.remote().members.len()
    }

    pub(crate) fn visit(
        &self,
        scope: &Scope,
        except: &[ConnectionId],
        visit: impl FnMut(ConnectionId, &Member<u16>) -> bool,
    ) -> usize {
        self.remote().visit(scope, except, visit)
    }

    fn remote(&self) -> RwLockReadGuard<'_, Registry<u16>> {
        crate::base::sync::read(&self.remote)
    }
}

/// The receiving half, driven by the Redis backplane: what the other instances said.
#[cfg(feature = "redis")]
impl Cluster {
    /// Notes that `instance` is alive; `true` when it was not known (new, or forgotten), so its
    /// connections must be loaded from the shared store.
    pub(crate) fn heard_from(&self, instance: u16) -> bool {
        self.heard_mut().insert(instance, Instant::now()).is_none()
    }

    /// Whether `instance` is heard from (and not forgotten as silent).
    pub(crate) fn is_alive(&self, instance: u16) -> bool {
        self.heard_mut().contains_key(&instance)
    }

    /// Applies a connect, disconnect, join, leave or presence change of another instance.
    pub(crate) fn apply(&self, origin: u16, event: ClusterEvent) {
        apply(&mut self.remote_mut(), origin, event);
    }

    /// Replaces what is known of `instance`'s connections with `facts` (read from the store).
    pub(crate) fn replace(&self, instance: u16, facts: Vec<ClusterEvent>) {
        let mut remote = self.remote_mut();
        remote.remove_where(|member| member.value == instance);
        for fact in facts {
            apply(&mut remote, instance, fact);
        }
    }

    /// Forgets the clients of every instance not in `alive` (found in the store).
    pub(crate) fn forget_all_but(&self, alive: &[u16]) {
        self.remote_mut()
            .remove_where(|member| !alive.contains(&member.value));
    }

    /// Forgets every instance not heard from within `liveness`: it stopped without saying so.
    pub(crate) fn forget_silent(&self, liveness: Duration) -> Vec<u16> {
        let mut heard = self.heard_mut();
        let silent: Vec<u16> = heard
            .iter()
            .filter(|(_, last)| last.elapsed() > liveness)
            .map(|(instance, _)| *instance)
            .collect();
        if !silent.is_empty() {
            for instance in &silent {
                heard.remove(instance);
            }
            self.remote_mut()
                .remove_where(|member| silent.contains(&member.value));
        }
        silent
    }

    fn heard_mut(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Instant>> {
        crate::base::sync::lock(&self.heard)
    }

    fn remote_mut(&self) -> RwLockWriteGuard<'_, Registry<u16>> {
        crate::base::sync::write(&self.remote)
    }
}

#[cfg(feature = "redis")]
/// Applies one fact about instance `origin`'s connections. A client is on the instance that
/// last said it connected (a session resumed elsewhere moves); facts about it from any other
/// instance are stale and ignored.
fn apply(remote: &mut Registry<u16>, origin: u16, event: ClusterEvent) {
    let Some(id) = event.member() else {
        return;
    };
    if let ClusterEvent::Connected { path, .. } = &event {
        remote.insert(id, origin, Arc::clone(path));
        return;
    }
    if remote
        .members
        .get(&id)
        .is_none_or(|member| member.value != origin)
    {
        return;
    }
    match event {
        ClusterEvent::Disconnected { .. } => {
            remote.remove(id);
        }
        ClusterEvent::Joined { room, .. } => {
            remote.join(id, &room);
        }
        ClusterEvent::Left { room, .. } => {
            remote.leave(id, &room);
        }
        ClusterEvent::Presence { presence, .. } => {
            remote.set_presence(id, presence);
        }
        _ => {}
    }
}

/// The receiving half of a cluster, driven by the Redis backplane: applying what other
/// instances send, and what this instance tells them about itself.
#[cfg(feature = "redis")]
impl super::Hub {
    /// Delivers what another instance sent to the local clients it is for.
    pub(crate) fn receive(&self, origin: u16, event: ClusterEvent) {
        let Some(cluster) = self.cluster() else {
            return;
        };
        match event {
            ClusterEvent::Deliver {
                scope,
                except,
                message,
            } => {
                // A resumable session takes these from the journal.
                self.local().visit(&scope, &except, |_, member| {
                    member.value.takes_fan_out()
                        && self.deliver(member.value.as_ref(), message.clone()).is_ok()
                });
            }
            ClusterEvent::DeliverTo { id, message } => {
                if let Some(member) = self.local().members.get(&id) {
                    if member.value.takes_fan_out() {
                        self.deliver(member.value.as_ref(), message).ok();
                    }
                }
            }
            ClusterEvent::Release { token } => {
                if let Some(journal) = self.journaling() {
                    journal.release(&token);
                }
                cluster.publish(ClusterEvent::Released { token, to: origin });
            }
            ClusterEvent::Released { token, .. } => {
                if let Some(journal) = self.journaling() {
                    journal.released(token);
                }
            }
            presence => cluster.apply(origin, presence),
        }
    }

    /// What the other instances need to know about this one's connections to rebuild their
    /// picture of it (every connection, its presence and its rooms), and what `during` returns.
    /// `during` runs before any later change is told to the cluster: changes are told with the
    /// registry locked, and it runs under the same lock.
    pub(crate) fn local_facts<R>(&self, during: impl FnOnce() -> R) -> (Vec<ClusterEvent>, R) {
        let local = self.local();
        let mut facts = Vec::with_capacity(local.members.len() * 2);
        for (&id, member) in &local.members {
            facts.push(ClusterEvent::Connected {
                id,
                path: Arc::clone(&member.path),
            });
            if let Some(presence) = &member.presence {
                facts.push(ClusterEvent::Presence {
                    id,
                    presence: Arc::clone(presence),
                });
            }
            for room in &member.rooms {
                facts.push(ClusterEvent::Joined {
                    id,
                    room: Arc::clone(room),
                });
            }
        }
        (facts, during())
    }

    /// Which of this instance's keys the store must hold.
    pub(crate) fn local_holdings(&self) -> Holdings {
        let local = self.local();
        Holdings {
            members: !local.members.is_empty(),
            presence: local
                .members
                .values()
                .any(|member| member.presence.is_some()),
            rooms: local.room_count() > 0,
        }
    }
}

/// What this instance holds, so which of its keys the store must have: a store that lacks one
/// lost it.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Holdings {
    /// A local client is connected.
    pub(crate) members: bool,
    /// A local client has a presence text.
    pub(crate) presence: bool,
    /// A local client is in a room.
    pub(crate) rooms: bool,
}
