use super::{EntryId, Fold, Record};
use crate::base::ids::ConnectionId;
use crate::base::protocol::FreshReason;
use crate::base::settings::ResumeLimits;
use crate::hub::backplane::ClusterEvent;
use crate::hub::Scope;
use tungstenite::Message;

fn record(count: u64) -> Record {
    Record {
        id: 7,
        endpoint: "/chat".into(),
        path: "/chat".into(),
        owner: 1,
        rooms: vec!["lobby".into()],
        presence: None,
        count,
        position: "1-0".into(),
        lost: false,
    }
}

fn at(seq: usize) -> EntryId {
    EntryId::parse(&format!("5-{seq}")).unwrap()
}

fn to(scope: Scope, text: &str) -> ClusterEvent {
    ClusterEvent::Deliver {
        scope,
        except: Vec::new(),
        message: Message::text(text),
    }
}

#[test]
fn the_fold_counts_what_the_session_was_sent_and_keeps_what_the_client_missed() {
    let mut fold = Fold::new(record(10), 11, ResumeLimits::default()).unwrap();
    let entries = [
        to(Scope::Room("lobby".into()), "11"),
        to(Scope::Room("garden".into()), "not hers"),
        ClusterEvent::Joined {
            id: ConnectionId(7),
            room: "garden".into(),
        },
        to(Scope::Room("garden".into()), "12"),
        ClusterEvent::Deliver {
            scope: Scope::All,
            except: vec![ConnectionId(7)],
            message: Message::text("not hers either"),
        },
        to(Scope::Path("/other".into()), "nor this"),
        ClusterEvent::DeliverTo {
            id: ConnectionId(8),
            message: Message::text("someone else's"),
        },
        ClusterEvent::Left {
            id: ConnectionId(7),
            room: "lobby".into(),
        },
        to(Scope::Room("lobby".into()), "after she left"),
        ClusterEvent::DeliverTo {
            id: ConnectionId(7),
            message: Message::text("13"),
        },
        to(Scope::Path("/chat".into()), "14"),
    ];
    for (seq, entry) in entries.iter().enumerate() {
        fold.apply(at(seq), entry).unwrap();
    }
    let folded = fold.finish().unwrap();
    assert_eq!(folded.count, 14);
    assert_eq!(folded.rooms, ["garden"]);
    let missed: Vec<_> = folded
        .missed
        .iter()
        .map(|(message, mark)| (message.to_text().unwrap(), mark.entry, mark.rooms.len()))
        .collect();
    assert_eq!(
        missed,
        [("12", at(3), 2), ("13", at(9), 1), ("14", at(10), 1)]
    );
}

#[test]
fn a_client_outside_what_can_be_replayed_is_told_lost() {
    assert_eq!(
        Fold::new(record(10), 9, ResumeLimits::default()).err(),
        Some(FreshReason::Lost)
    );
    let fold = Fold::new(record(10), 11, ResumeLimits::default()).unwrap();
    assert_eq!(fold.finish().err(), Some(FreshReason::Lost));
    let limits = ResumeLimits {
        buffer_messages: 1,
        ..ResumeLimits::default()
    };
    let mut fold = Fold::new(record(0), 0, limits).unwrap();
    fold.apply(at(1), &to(Scope::All, "1")).unwrap();
    assert_eq!(
        fold.apply(at(2), &to(Scope::All, "2")).err(),
        Some(FreshReason::Lost)
    );
}

#[test]
fn entry_ids_read_back_as_written_and_order_as_redis_orders_them() {
    let id = EntryId::parse("1733091234567-12").unwrap();
    assert_eq!(id.to_string(), "1733091234567-12");
    assert!(EntryId::parse("1733091234567-2").unwrap() < id);
    assert!(EntryId::parse("1733091234568-0").unwrap() > id);
    assert_eq!(EntryId::parse("nope"), None);
}
