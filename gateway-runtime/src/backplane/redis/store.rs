//! What Redis holds for a cluster, under the namespace `ns`, and how it is written and read:
//! - channel `ns:bus`: every event of every instance (sends, connects, joins, heartbeats);
//! - channel `ns:to:N`: `Hub::send_to` a client of instance `N`;
//! - `ns:instance:N`: instance `N`'s claim on its number (a random token);
//! - stream `ns:journal`: with resumable endpoints, every send and membership change, in one
//!   order (see `resume::journal`); `ns:session:T`: resumable session `T`'s checkpoint;
//! - `ns:members:N` (hash id → path), `ns:presence:N` (hash id → text), `ns:rooms:N` (set of
//!   "id room"): instance `N`'s clients, what a starting instance loads to learn who is
//!   connected elsewhere.
//!
//! Everything of instance `N` expires [`RedisBackplane::LIVENESS`] after its last heartbeat.

use super::RedisBackplane;
use crate::base::ids::ConnectionId;
use crate::hub::backplane::ClusterEvent;
use redis::{Cmd, Pipeline};
use std::collections::HashMap;

/// The names of the channels and keys of one namespace.
#[derive(Clone)]
pub(super) struct Keys {
    pub(super) namespace: String,
}

impl Keys {
    fn bus(&self) -> String {
        format!("{}:bus", self.namespace)
    }

    /// The stream every message for a resumable session passes through.
    pub(super) fn journal(&self) -> String {
        format!("{}:journal", self.namespace)
    }

    /// A resumable session's checkpoint.
    pub(super) fn session(&self, token: &str) -> String {
        format!("{}:session:{token}", self.namespace)
    }

    /// Appends frames (add them as arguments) to the journal of resumable sessions, each
    /// numbered (`n`: one more than the last, so a reader that finds a number missing knows it
    /// fell behind the trimming), trimming its oldest entries while it holds more than `budget`
    /// bytes (each entry counted as its frame plus [`RedisBackplane::JOURNAL_ENTRY_OVERHEAD`]).
    /// One script, so the count, the numbers and the stream never disagree, whichever instances
    /// append at once.
    pub(super) fn journal_append(&self, budget: usize) -> Cmd {
        const APPEND: &str = r"
            local total = tonumber(redis.call('GET', KEYS[2]) or '0')
            local budget, overhead = tonumber(ARGV[1]), tonumber(ARGV[2])
            local n = tonumber(redis.call('INCRBY', KEYS[3], #ARGV - 2)) - (#ARGV - 2)
            for i = 3, #ARGV do
                n = n + 1
                redis.call('XADD', KEYS[1], '*', 'e', ARGV[i], 'n', n)
                total = total + #ARGV[i] + overhead
            end
            local keep = nil
            while total > budget and not keep do
                local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 256)
                if #oldest == 0 then total = 0 break end
                for _, entry in ipairs(oldest) do
                    if total <= budget then keep = entry[1] break end
                    total = total - #(entry[2][2] or '') - overhead
                    redis.call('XDEL', KEYS[1], entry[1])
                end
            end
            redis.call('SET', KEYS[2], math.max(total, 0))
        ";
        let mut append = redis::cmd("EVAL");
        append
            .arg(APPEND)
            .arg(3)
            .arg(self.journal())
            .arg(format!("{}:journal:bytes", self.namespace))
            .arg(self.journal_numbers())
            .arg(budget)
            .arg(RedisBackplane::JOURNAL_ENTRY_OVERHEAD);
        append
    }

    /// The number of the journal's last entry (see [`Keys::journal_append`]).
    pub(super) fn journal_numbers(&self) -> String {
        format!("{}:journal:n", self.namespace)
    }

    /// Held by the one instance restoring a resumable session, while it does.
    pub(super) fn restoring(&self, token: &str) -> String {
        format!("{}:restoring:{token}", self.namespace)
    }

    /// Writes session `token`'s checkpoint `record`, written by `instance`, to live `ttl_ms`:
    /// only while the stored one (if any) is `instance`'s. A session goes from one instance
    /// to another only through [`Keys::hand_over`], so a checkpoint its last instance had
    /// still on the way never takes it back.
    pub(super) fn checkpoint(&self, token: &str, record: &[u8], instance: u16, ttl_ms: u64) -> Cmd {
        const CHECKPOINT: &str = r"
            local stored = redis.call('GET', KEYS[1])
            if stored then
                local ok, record = pcall(cjson.decode, stored)
                if ok and type(record) == 'table' and record.owner ~= tonumber(ARGV[2]) then
                    return 0
                end
            end
            redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
            return 1
        ";
        let mut checkpoint = redis::cmd("EVAL");
        checkpoint
            .arg(CHECKPOINT)
            .arg(1)
            .arg(self.session(token))
            .arg(record)
            .arg(instance)
            .arg(ttl_ms);
        checkpoint
    }

    /// Hands session `token` to the instance holding `claim` (see [`Keys::restoring`]): its
    /// checkpoint becomes `record` (naming that instance) and the claim goes, at once, so the
    /// next resume elsewhere asks that instance to let go. Nothing while the claim is not
    /// `claim`; without `record` (the resume failed), only the claim goes.
    pub(super) fn hand_over(&self, token: &str, claim: &str, record: Option<&[u8]>) -> Cmd {
        const HAND_OVER: &str = r"
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
            if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'KEEPTTL') end
            redis.call('DEL', KEYS[1])
            return 1
        ";
        let mut hand_over = redis::cmd("EVAL");
        hand_over
            .arg(HAND_OVER)
            .arg(2)
            .arg(self.restoring(token))
            .arg(self.session(token))
            .arg(claim)
            .arg(record.unwrap_or_default());
        hand_over
    }

    pub(super) fn inbox(&self, instance: u16) -> String {
        format!("{}:to:{instance}", self.namespace)
    }

    fn claim(&self, instance: u16) -> String {
        format!("{}:instance:{instance}", self.namespace)
    }

    fn members(&self, instance: u16) -> String {
        format!("{}:members:{instance}", self.namespace)
    }

    /// Matches every instance's members key; [`Keys::instance_of`] reads the number back.
    pub(super) fn all_members(&self) -> String {
        format!("{}:members:*", self.namespace)
    }

    /// The instance whose members key this is.
    pub(super) fn instance_of(key: &str) -> Option<u16> {
        key.rsplit(':').next()?.parse().ok()
    }

    fn presence(&self, instance: u16) -> String {
        format!("{}:presence:{instance}", self.namespace)
    }

    fn rooms(&self, instance: u16) -> String {
        format!("{}:rooms:{instance}", self.namespace)
    }

    /// The three keys that hold an instance's clients.
    fn clients(&self, instance: u16) -> [String; 3] {
        [
            self.members(instance),
            self.presence(instance),
            self.rooms(instance),
        ]
    }

    /// Claims `instance` for the holder of `token`, if nobody holds it.
    pub(super) fn claim_if_free(&self, instance: u16, token: u64) -> Cmd {
        let mut claim = redis::cmd("SET");
        claim
            .arg(self.claim(instance))
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms());
        claim
    }

    /// The names this instance writes to, worked out once rather than per event.
    pub(super) fn own(&self, instance: u16) -> OwnKeys {
        OwnKeys {
            bus: self.bus(),
            inbox: self.inbox(instance),
            claim: self.claim(instance),
            clients: self.clients(instance),
        }
    }

    /// The commands that read `instance`'s clients back, as [`Stored`].
    pub(super) fn read(&self, instance: u16) -> Pipeline {
        let mut pipe = redis::pipe();
        pipe.hgetall(self.members(instance))
            .hgetall(self.presence(instance))
            .smembers(self.rooms(instance));
        pipe
    }
}

/// The channels and keys of this instance.
pub(super) struct OwnKeys {
    /// Every instance's events.
    pub(super) bus: String,
    /// `send_to` this instance's clients.
    pub(super) inbox: String,
    /// This instance's claim on its number.
    pub(super) claim: String,
    /// Its members, presence and rooms keys.
    pub(super) clients: [String; 3],
}

impl OwnKeys {
    /// Adds the commands that record a presence change in this instance's keys; `false` when
    /// the event is not one.
    pub(super) fn record(&self, pipe: &mut Pipeline, event: &ClusterEvent) -> bool {
        let [members, presence, rooms] = &self.clients;
        match event {
            ClusterEvent::Connected { id, path } => pipe.hset(members, id.0, &**path),
            ClusterEvent::Disconnected { id, rooms: left } => {
                pipe.hdel(members, id.0).ignore().hdel(presence, id.0);
                if !left.is_empty() {
                    let entries: Vec<String> =
                        left.iter().map(|room| room_entry(*id, room)).collect();
                    pipe.ignore().srem(rooms, entries);
                }
                pipe
            }
            ClusterEvent::Joined { id, room } => pipe.sadd(rooms, room_entry(*id, room)),
            ClusterEvent::Left { id, room } => pipe.srem(rooms, room_entry(*id, room)),
            ClusterEvent::Presence { id, presence: text } => pipe.hset(presence, id.0, &**text),
            _ => return false,
        }
        .ignore();
        true
    }

    /// Renews the lifetime of this instance's client keys (its claim is renewed by the
    /// heartbeat).
    pub(super) fn keep_alive(&self, pipe: &mut Pipeline) {
        for key in &self.clients {
            pipe.pexpire(key, ttl_ms() as i64).ignore();
        }
    }
}

/// An instance's clients as Redis holds them: members, presence texts, room entries.
pub(super) type Stored = (
    HashMap<String, String>,
    HashMap<String, String>,
    Vec<String>,
);

/// The facts `stored` records; entries that are not ours are skipped.
pub(super) fn facts((members, presence, rooms): Stored) -> Vec<ClusterEvent> {
    let id = |text: &str| text.parse().ok().map(ConnectionId);
    let mut facts = Vec::with_capacity(members.len() + presence.len() + rooms.len());
    facts.extend(members.into_iter().filter_map(|(member, path)| {
        Some(ClusterEvent::Connected {
            id: id(&member)?,
            path: path.into(),
        })
    }));
    facts.extend(presence.into_iter().filter_map(|(member, presence)| {
        Some(ClusterEvent::Presence {
            id: id(&member)?,
            presence: presence.into(),
        })
    }));
    facts.extend(rooms.iter().filter_map(|entry| {
        let (member, room) = entry.split_once(' ')?;
        Some(ClusterEvent::Joined {
            id: id(member)?,
            room: room.into(),
        })
    }));
    facts
}

/// How long an instance's keys outlive its last heartbeat, in milliseconds.
pub(super) fn ttl_ms() -> u64 {
    RedisBackplane::LIVENESS.as_millis() as u64
}

/// How a client's room membership is stored: "id room".
fn room_entry(id: ConnectionId, room: &str) -> String {
    format!("{} {room}", id.0)
}
