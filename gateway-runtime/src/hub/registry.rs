//! [`Registry`]: who is connected, on which path, in which rooms, with what presence.
//!
//! The hub keeps one for its own connections (holding each [`Connection`](crate::Connection))
//! and, with a backplane, one for the other instances' connections (holding nothing but the
//! facts), so both answer the same questions the same way.

use super::Scope;
use crate::base::ids::ConnectionId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub(crate) struct Registry<T> {
    pub(crate) members: HashMap<ConnectionId, Member<T>>,
    rooms: HashMap<Arc<str>, HashSet<ConnectionId>>,
}

pub(crate) struct Member<T> {
    /// What the registry keeps per member: the connection itself, or `()` for a remote one.
    pub(crate) value: T,
    pub(crate) path: Arc<str>,
    pub(crate) rooms: Vec<Arc<str>>,
    pub(crate) presence: Option<Arc<str>>,
}

impl<T> Default for Registry<T> {
    fn default() -> Self {
        Self {
            members: HashMap::new(),
            rooms: HashMap::new(),
        }
    }
}

impl<T> Registry<T> {
    pub(crate) fn insert(&mut self, id: ConnectionId, value: T, path: Arc<str>) {
        let member = Member {
            value,
            path,
            rooms: Vec::new(),
            presence: None,
        };
        if let Some(replaced) = self.members.insert(id, member) {
            self.leave_rooms(id, &replaced.rooms);
        }
    }

    /// Forgets a member and takes it out of every room it was in.
    pub(crate) fn remove(&mut self, id: ConnectionId) -> Option<Member<T>> {
        let member = self.members.remove(&id)?;
        self.leave_rooms(id, &member.rooms);
        Some(member)
    }

    #[cfg(feature = "redis")]
    /// Forgets every member `forget` picks.
    pub(crate) fn remove_where(&mut self, forget: impl Fn(&Member<T>) -> bool) {
        let gone: Vec<ConnectionId> = self
            .members
            .iter()
            .filter(|(_, member)| forget(member))
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            self.remove(id);
        }
    }

    /// Puts a member in a room; `Some(room)` (the room's shared name) when it was not in it yet.
    pub(crate) fn join(&mut self, id: ConnectionId, room: &str) -> Option<Arc<str>> {
        let member = self.members.get_mut(&id)?;
        if member.rooms.iter().any(|joined| &**joined == room) {
            return None;
        }
        let room: Arc<str> = self
            .rooms
            .get_key_value(room)
            .map_or_else(|| Arc::from(room), |(name, _)| Arc::clone(name));
        member.rooms.push(Arc::clone(&room));
        self.rooms.entry(Arc::clone(&room)).or_default().insert(id);
        Some(room)
    }

    /// Takes a member out of a room; `Some(room)` (the room's shared name) when it was in it.
    pub(crate) fn leave(&mut self, id: ConnectionId, room: &str) -> Option<Arc<str>> {
        let member = self.members.get_mut(&id)?;
        let index = member.rooms.iter().position(|joined| &**joined == room)?;
        let room = member.rooms.remove(index);
        self.leave_room(&room, id);
        Some(room)
    }

    /// Sets the text others see next to a member; `true` when the member exists.
    pub(crate) fn set_presence(&mut self, id: ConnectionId, presence: Arc<str>) -> bool {
        self.members
            .get_mut(&id)
            .map(|member| member.presence = Some(presence))
            .is_some()
    }

    pub(crate) fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Calls `visit` on every member in `scope` but not in `except`; returns how many visits
    /// returned `true`.
    pub(crate) fn visit(
        &self,
        scope: &Scope,
        except: &[ConnectionId],
        mut visit: impl FnMut(ConnectionId, &Member<T>) -> bool,
    ) -> usize {
        let mut count = 0;
        let mut counted = |(id, member): (&ConnectionId, &Member<T>)| {
            if !except.contains(id) {
                count += usize::from(visit(*id, member));
            }
        };
        match scope {
            Scope::All => self.members.iter().for_each(&mut counted),
            Scope::Path(path) => self
                .members
                .iter()
                .filter(|(_, member)| *member.path == **path)
                .for_each(&mut counted),
            Scope::Room(room) => {
                let ids = self.rooms.get(&**room).into_iter().flatten();
                ids.filter_map(|id| self.members.get_key_value(id))
                    .for_each(&mut counted);
            }
        }
        count
    }

    fn leave_rooms(&mut self, id: ConnectionId, rooms: &[Arc<str>]) {
        for room in rooms {
            self.leave_room(room, id);
        }
    }

    fn leave_room(&mut self, room: &str, id: ConnectionId) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }
}
