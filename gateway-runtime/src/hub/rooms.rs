//! The rooms and presence of this instance's connections, told to the other instances as they
//! change.

use super::Hub;
use crate::base::ids::ConnectionId;
use crate::hub::backplane::ClusterEvent;
use std::sync::Arc;

impl Hub {
    pub(crate) fn join(&self, id: ConnectionId, room: &str) {
        let mut local = self.local_mut();
        if let Some(room) = local.join(id, room) {
            self.tell_cluster(|| ClusterEvent::Joined { id, room });
        }
    }

    pub(crate) fn leave(&self, id: ConnectionId, room: &str) {
        let mut local = self.local_mut();
        if let Some(room) = local.leave(id, room) {
            self.tell_cluster(|| ClusterEvent::Left { id, room });
        }
    }

    pub(crate) fn rooms_of(&self, id: ConnectionId) -> Vec<String> {
        self.local()
            .members
            .get(&id)
            .map(|member| {
                member
                    .rooms
                    .iter()
                    .map(std::string::ToString::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn set_presence(&self, id: ConnectionId, presence: &str) {
        let presence: Arc<str> = Arc::from(presence);
        let mut local = self.local_mut();
        if local.set_presence(id, Arc::clone(&presence)) {
            self.tell_cluster(|| ClusterEvent::Presence { id, presence });
        }
    }

    pub(crate) fn presence_of(&self, id: ConnectionId) -> Option<String> {
        let local = self.local();
        let presence = local.members.get(&id)?.presence.as_deref()?;
        Some(presence.to_owned())
    }
}
