//! What this instance tells the store about itself and reads back about the others: its
//! claim on its number, fencing off a previous connection, the announce of its clients, and
//! loading the other instances' clients.

use super::{unreadable, Ended, Session};
use crate::backplane::redis::store::{self, Keys, Stored};
use crate::endpoint::resume::cluster;
use crate::endpoint::resume::journal::EntryId;
use crate::hub::backplane::{encode, ClusterEvent};
use redis::aio::MultiplexedConnection;
use redis::{AsyncCommands, ScanOptions};
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;

impl Session<'_> {
    /// Cuts off the previous session's command connection, which may still hold writes that
    /// timed out on this side (they would land after the announce and bring back stale
    /// presence), and remembers this session's.
    pub(super) async fn fence(&mut self, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        if let Some(previous) = self.previous_connection.take() {
            // Usually it is gone already, and Redis answers that no such client exists.
            let _: redis::RedisResult<()> = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(previous)
                .query_async(redis)
                .await;
        }
        self.previous_connection = Some(redis::cmd("CLIENT").arg("ID").query_async(redis).await?);
        Ok(())
    }

    /// Claims this instance's number again: Redis may have restarted empty, or (after a
    /// degraded start) never have seen the claim.
    pub(super) async fn claim(&self, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        let link = self.link;
        let claimed: Option<String> = link
            .keys
            .claim_if_free(link.instance, link.token)
            .query_async(redis)
            .await?;
        if claimed.is_none() {
            let owner: Option<u64> = redis.get(&link.own.claim).await?;
            self.check_owner(owner);
        }
        Ok(())
    }

    /// Shouts when another instance holds this one's number: their connection ids collide.
    pub(super) fn check_owner(&self, owner: Option<u64>) {
        if owner.is_some_and(|owner| owner != self.link.token) {
            tracing::error!(
                instance = self.link.instance,
                "another instance claims this instance's number: connection ids may collide; \
                 restart one of them"
            );
        }
    }

    /// Rewrites this instance's clients into Redis (which may have restarted empty, or dropped
    /// events) and tells the others to reload them. Presence changes still queued are covered
    /// by the rewrite and dropped (kept, with resumable endpoints: the journal needs them);
    /// queued sends are published after it.
    pub(super) async fn announce(
        &self,
        events: &mut mpsc::Receiver<ClusterEvent>,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        let link = self.link;
        // The journal of resumable sessions needs every change, in order, rewrite or not.
        let journaling = hub.is_journaling();
        let (facts, sends) = hub.local_facts(|| {
            self.backlog.gap.store(false, Ordering::Relaxed);
            // No presence change can be queued while this runs, so those queued are all among
            // the events queued now; sends queued later stay in the queue.
            let queued = events.len();
            let mut sends = Vec::new();
            for _ in 0..queued {
                match events.try_recv() {
                    Ok(event) if journaling || event.member().is_none() => sends.push(event),
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            sends
        });
        drop(hub);
        self.backlog.taken(&sends, events.len());
        let mut pipe = redis::pipe();
        pipe.atomic().del(&link.own.clients).ignore();
        for fact in &facts {
            link.own.record(&mut pipe, fact);
        }
        link.own.keep_alive(&mut pipe);
        pipe.publish(
            &link.own.bus,
            encode(link.instance, &ClusterEvent::Announce),
        )
        .ignore();
        pipe.query_async::<()>(redis).await?;
        self.publish(sends.into_iter(), redis).await?;
        Ok(())
    }

    /// Where the journal of resumable sessions begins for this instance: after its last entry
    /// now, before this instance adds any (once; after a reconnection it goes on).
    pub(super) async fn start_journal(
        &self,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        let hub = self.hub.upgrade().ok_or(Ended::AppGone)?;
        let Some(journal) = cluster::journal(&hub).filter(|journal| !journal.started()) else {
            return Ok(());
        };
        let (last, number): (redis::streams::StreamRangeReply, Option<u64>) = redis::pipe()
            .atomic()
            .cmd("XREVRANGE")
            .arg(self.link.keys.journal())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .cmd("GET")
            .arg(self.link.keys.journal_numbers())
            .query_async(redis)
            .await?;
        let last = last
            .ids
            .first()
            .and_then(|entry| EntryId::parse(&entry.id))
            .unwrap_or_default();
        journal.start_at(&hub, last, number);
        Ok(())
    }

    /// Loads every other instance's clients, and forgets those of instances that have none
    /// in Redis any more.
    pub(super) async fn load_all(&self, redis: &mut MultiplexedConnection) -> Result<(), Ended> {
        let link = self.link;
        let mut found = Vec::new();
        {
            let scan = ScanOptions::default()
                .with_pattern(link.keys.all_members())
                .with_count(1000);
            let mut keys = redis.scan_options::<String>(scan).await?;
            while let Some(key) = keys.next_item().await {
                found.extend(Keys::instance_of(&key?));
            }
        }
        found.retain(|instance| *instance != link.instance);
        self.cluster(|cluster| cluster.forget_all_but(&found))?;
        for instance in found {
            self.load(instance, redis).await?;
        }
        Ok(())
    }

    /// Replaces what the hub knows of `instance`'s clients with what Redis holds. Keys that
    /// hold something else (written by another program) count as empty, with a warning.
    pub(super) async fn load(
        &self,
        instance: u16,
        redis: &mut MultiplexedConnection,
    ) -> Result<(), Ended> {
        let stored = self.link.keys.read(instance).query_async(redis).await;
        let stored = match stored {
            Ok(stored) => stored,
            Err(error) if unreadable(&error) => {
                tracing::warn!(%error, instance, "ignoring an instance's unreadable presence");
                Stored::default()
            }
            Err(error) => return Err(error.into()),
        };
        let facts = store::facts(stored);
        self.cluster(|cluster| {
            cluster.heard_from(instance);
            cluster.replace(instance, facts);
        })
    }
}
