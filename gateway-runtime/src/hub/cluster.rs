//! [`Cluster`]: what a hub knows about the other instances of its service, kept up to date
//! from the events their backplane delivers.

use super::registry::{Member, Registry};
use super::Scope;
use crate::backplane::Event;
use crate::connection::ConnectionId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

pub(crate) struct Cluster {
    instance: u16,
    outbox: Arc<dyn Fn(Event) + Send + Sync>,
    /// The other instances' connections.
    remote: RwLock<Registry<()>>,
    /// When each other instance was last heard from.
    heard: Mutex<HashMap<u16, Instant>>,
}

impl Cluster {
    pub(crate) fn new(instance: u16, outbox: Arc<dyn Fn(Event) + Send + Sync>) -> Self {
        Self {
            instance,
            outbox,
            remote: RwLock::default(),
            heard: Mutex::default(),
        }
    }

    /// This instance's number.
    pub(crate) fn instance(&self) -> u16 {
        self.instance
    }

    /// Hands an event to the backplane for the other instances.
    pub(crate) fn publish(&self, event: Event) {
        (self.outbox)(event);
    }

    /// Whether a client of another instance is connected.
    pub(crate) fn knows(&self, id: ConnectionId) -> bool {
        self.remote().members.contains_key(&id)
    }

    /// How many clients the other instances have.
    pub(crate) fn count(&self) -> usize {
        self.remote().members.len()
    }

    pub(crate) fn visit(
        &self,
        scope: &Scope,
        except: &[ConnectionId],
        visit: impl FnMut(ConnectionId, &Member<()>) -> bool,
    ) -> usize {
        self.remote().visit(scope, except, visit)
    }

    /// Notes that `instance` is alive; `true` when it was not known (new, or forgotten), so its
    /// connections must be loaded from the shared store.
    pub(crate) fn heard_from(&self, instance: u16) -> bool {
        self.heard_mut().insert(instance, Instant::now()).is_none()
    }

    /// Applies a connect, disconnect, join, leave or presence change of another instance.
    pub(crate) fn apply(&self, origin: u16, event: Event) {
        apply(&mut self.remote_mut(), origin, event);
    }

    /// Replaces what is known of `instance`'s connections with `facts` (read from the store).
    pub(crate) fn replace(&self, instance: u16, facts: Vec<Event>) {
        let mut remote = self.remote_mut();
        remote.remove_where(|id| id.instance() == instance);
        for fact in facts {
            apply(&mut remote, instance, fact);
        }
    }

    /// Forgets the clients of every instance not in `alive` (found in the store).
    pub(crate) fn forget_all_but(&self, alive: &[u16]) {
        self.remote_mut()
            .remove_where(|id| !alive.contains(&id.instance()));
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
                .remove_where(|id| silent.contains(&id.instance()));
        }
        silent
    }

    fn heard_mut(&self) -> std::sync::MutexGuard<'_, HashMap<u16, Instant>> {
        self.heard
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remote(&self) -> RwLockReadGuard<'_, Registry<()>> {
        // Plain maps every writer leaves consistent; a panic elsewhere cannot have broken them.
        self.remote
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn remote_mut(&self) -> RwLockWriteGuard<'_, Registry<()>> {
        self.remote
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Applies one fact about instance `origin`'s connections. A fact about an id that another
/// instance minted is ignored: an id tells which instance its client is on, and only that
/// instance speaks for it.
fn apply(remote: &mut Registry<()>, origin: u16, event: Event) {
    if event.member().is_none_or(|id| id.instance() != origin) {
        return;
    }
    match event {
        Event::Connected { id, path } => {
            remote.insert(id, (), path);
        }
        Event::Disconnected { id, .. } => {
            remote.remove(id);
        }
        Event::Joined { id, room } => {
            remote.join(id, &room);
        }
        Event::Left { id, room } => {
            remote.leave(id, &room);
        }
        Event::Presence { id, presence } => {
            remote.set_presence(id, presence);
        }
        _ => {}
    }
}
