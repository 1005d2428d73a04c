//! How backplane [`ClusterEvent`]s travel: one compact binary frame each. A message's payload is
//! copied into the frame once and, on the receiving side, shared (not copied) by every local
//! recipient. Decoding checks every length, so a corrupt frame is an error, never a panic.
//!
//! Layout: version `1`, the origin instance (u16), a tag, then the tag's fields. Integers are
//! big-endian; strings are a u32 length and UTF-8; a message is its kind (0 text, 1 binary),
//! a u32 length and the payload.

use super::ClusterEvent;
use crate::base::ids::ConnectionId;
use crate::hub::Scope;
use bytes::{Buf, BufMut, Bytes};
use tungstenite::{Message, Utf8Bytes};

const VERSION: u8 = 1;

/// A frame that is not a backplane event of this version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed backplane frame: {0}")]
pub(crate) struct WireError(&'static str);

/// The frame of `event`, sent by instance `origin`.
pub(crate) fn encode(origin: u16, event: &ClusterEvent) -> Vec<u8> {
    let mut frame = Vec::with_capacity(16 + event.weight());
    frame.put_u8(VERSION);
    frame.put_u16(origin);
    match event {
        ClusterEvent::Deliver {
            scope,
            except,
            message,
        } => {
            frame.put_u8(0);
            match scope {
                Scope::All => frame.put_u8(0),
                Scope::Path(path) => {
                    frame.put_u8(1);
                    put_str(&mut frame, path);
                }
                Scope::Room(room) => {
                    frame.put_u8(2);
                    put_str(&mut frame, room);
                }
            }
            frame.put_u32(len_u32(except.len()));
            for id in except {
                frame.put_u64(id.0);
            }
            put_message(&mut frame, message);
        }
        ClusterEvent::DeliverTo { id, message } => {
            frame.put_u8(1);
            frame.put_u64(id.0);
            put_message(&mut frame, message);
        }
        ClusterEvent::Connected { id, path } => put_member_fact(&mut frame, 2, *id, path),
        ClusterEvent::Disconnected { id, rooms } => {
            frame.put_u8(3);
            frame.put_u64(id.0);
            frame.put_u32(len_u32(rooms.len()));
            for room in rooms {
                put_str(&mut frame, room);
            }
        }
        ClusterEvent::Joined { id, room } => put_member_fact(&mut frame, 4, *id, room),
        ClusterEvent::Left { id, room } => put_member_fact(&mut frame, 5, *id, room),
        ClusterEvent::Presence { id, presence } => put_member_fact(&mut frame, 6, *id, presence),
        ClusterEvent::Heartbeat => frame.put_u8(7),
        ClusterEvent::Announce => frame.put_u8(8),
        ClusterEvent::Release { token } => {
            frame.put_u8(9);
            put_str(&mut frame, token);
        }
        ClusterEvent::Checkpoint {
            token,
            record,
            window_ms,
        } => {
            frame.put_u8(10);
            put_str(&mut frame, token);
            frame.put_u64(*window_ms);
            frame.put_u32(len_u32(record.len()));
            frame.put_slice(record);
        }
        ClusterEvent::Forget { token } => {
            frame.put_u8(11);
            put_str(&mut frame, token);
        }
        ClusterEvent::Dropped => frame.put_u8(13),
        ClusterEvent::Released { token, to } => {
            frame.put_u8(12);
            frame.put_u16(*to);
            put_str(&mut frame, token);
        }
    }
    frame
}

/// The origin instance of a frame, and whether it is a heartbeat, read from its first bytes
/// without decoding (or copying) the rest; `None` for what is not a frame of this version.
pub(crate) fn peek(frame: &[u8]) -> Option<(u16, bool)> {
    match frame {
        [VERSION, high, low, tag, ..] => Some((u16::from_be_bytes([*high, *low]), *tag == 7)),
        _ => None,
    }
}

/// The origin instance and the event of a frame.
pub(crate) fn decode(mut frame: Bytes) -> Result<(u16, ClusterEvent), WireError> {
    let reader = &mut frame;
    if take_u8(reader)? != VERSION {
        return Err(WireError("unknown version"));
    }
    let origin = take_u16(reader)?;
    let event = match take_u8(reader)? {
        0 => {
            let scope = match take_u8(reader)? {
                0 => Scope::All,
                1 => Scope::Path(take_str(reader)?),
                2 => Scope::Room(take_str(reader)?),
                _ => return Err(WireError("unknown scope")),
            };
            let count = take_u32(reader)? as usize;
            if reader.remaining() / 8 < count {
                return Err(WireError("truncated"));
            }
            let except = (0..count).map(|_| ConnectionId(reader.get_u64())).collect();
            let message = take_message(reader)?;
            ClusterEvent::Deliver {
                scope,
                except,
                message,
            }
        }
        1 => {
            let id = take_id(reader)?;
            let message = take_message(reader)?;
            ClusterEvent::DeliverTo { id, message }
        }
        2 => ClusterEvent::Connected {
            id: take_id(reader)?,
            path: take_str(reader)?,
        },
        3 => {
            let id = take_id(reader)?;
            let count = take_u32(reader)? as usize;
            // Each room takes at least its 4-byte length.
            if reader.remaining() / 4 < count {
                return Err(WireError("truncated"));
            }
            let rooms = (0..count)
                .map(|_| take_str(reader))
                .collect::<Result<_, _>>()?;
            ClusterEvent::Disconnected { id, rooms }
        }
        4 => ClusterEvent::Joined {
            id: take_id(reader)?,
            room: take_str(reader)?,
        },
        5 => ClusterEvent::Left {
            id: take_id(reader)?,
            room: take_str(reader)?,
        },
        6 => ClusterEvent::Presence {
            id: take_id(reader)?,
            presence: take_str(reader)?,
        },
        7 => ClusterEvent::Heartbeat,
        8 => ClusterEvent::Announce,
        9 => ClusterEvent::Release {
            token: take_str(reader)?,
        },
        10 => {
            let token = take_str(reader)?;
            let window_ms = reader.try_get_u64().map_err(|_| WireError("truncated"))?;
            let len = take_u32(reader)? as usize;
            if reader.remaining() < len {
                return Err(WireError("truncated"));
            }
            let record = reader.split_to(len);
            ClusterEvent::Checkpoint {
                token,
                record,
                window_ms,
            }
        }
        11 => ClusterEvent::Forget {
            token: take_str(reader)?,
        },
        12 => {
            let to = take_u16(reader)?;
            let token = take_str(reader)?;
            ClusterEvent::Released { token, to }
        }
        13 => ClusterEvent::Dropped,
        _ => return Err(WireError("unknown event")),
    };
    if reader.has_remaining() {
        return Err(WireError("trailing bytes"));
    }
    Ok((origin, event))
}

fn len_u32(len: usize) -> u32 {
    // Paths, rooms, presence texts and exception lists are far below 4 GiB.
    u32::try_from(len).expect("a backplane field of 4 GiB or more")
}

fn put_str(frame: &mut Vec<u8>, text: &str) {
    frame.put_u32(len_u32(text.len()));
    frame.put_slice(text.as_bytes());
}

fn put_member_fact(frame: &mut Vec<u8>, tag: u8, id: ConnectionId, text: &str) {
    frame.put_u8(tag);
    frame.put_u64(id.0);
    put_str(frame, text);
}

fn put_message(frame: &mut Vec<u8>, message: &Message) {
    match message {
        Message::Binary(payload) => {
            frame.put_u8(1);
            frame.put_u32(len_u32(payload.len()));
            frame.put_slice(payload);
        }
        // The hub only sends data messages; anything else travels as its text.
        other => {
            frame.put_u8(0);
            put_str(frame, other.to_text().unwrap_or_default());
        }
    }
}

fn take_message(reader: &mut Bytes) -> Result<Message, WireError> {
    let kind = take_u8(reader)?;
    let len = take_u32(reader)? as usize;
    if reader.remaining() < len {
        return Err(WireError("truncated"));
    }
    let payload = reader.split_to(len);
    match kind {
        0 => Utf8Bytes::try_from(payload)
            .map(Message::Text)
            .map_err(|_| WireError("text message is not UTF-8")),
        1 => Ok(Message::Binary(payload)),
        _ => Err(WireError("unknown message kind")),
    }
}

fn take_str<S: for<'a> From<&'a str>>(reader: &mut Bytes) -> Result<S, WireError> {
    let len = take_u32(reader)? as usize;
    if reader.remaining() < len {
        return Err(WireError("truncated"));
    }
    let bytes = reader.split_to(len);
    std::str::from_utf8(&bytes)
        .map(S::from)
        .map_err(|_| WireError("string is not UTF-8"))
}

fn take_id(reader: &mut Bytes) -> Result<ConnectionId, WireError> {
    if reader.remaining() < 8 {
        return Err(WireError("truncated"));
    }
    Ok(ConnectionId(reader.get_u64()))
}

fn take_u32(reader: &mut Bytes) -> Result<u32, WireError> {
    reader.try_get_u32().map_err(|_| WireError("truncated"))
}

fn take_u16(reader: &mut Bytes) -> Result<u16, WireError> {
    reader.try_get_u16().map_err(|_| WireError("truncated"))
}

fn take_u8(reader: &mut Bytes) -> Result<u8, WireError> {
    reader.try_get_u8().map_err(|_| WireError("truncated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(event: ClusterEvent) {
        let frame = encode(7, &event);
        assert_eq!(decode(Bytes::from(frame.clone())), Ok((7, event)));
        for cut in 0..frame.len() {
            assert!(
                decode(Bytes::copy_from_slice(&frame[..cut])).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn every_event_survives_the_trip_and_every_truncation_is_an_error() {
        let id = ConnectionId(42 << 37 | 9);
        round_trip(ClusterEvent::Deliver {
            scope: Scope::Room("lobby".into()),
            except: vec![id, ConnectionId(3)],
            message: Message::text("héllo"),
        });
        round_trip(ClusterEvent::Deliver {
            scope: Scope::Path("/chat".into()),
            except: Vec::new(),
            message: Message::binary(vec![0, 255, 1]),
        });
        round_trip(ClusterEvent::Deliver {
            scope: Scope::All,
            except: Vec::new(),
            message: Message::text(""),
        });
        round_trip(ClusterEvent::DeliverTo {
            id,
            message: Message::text("just you"),
        });
        round_trip(ClusterEvent::Connected {
            id,
            path: "/chat".into(),
        });
        round_trip(ClusterEvent::Disconnected {
            id,
            rooms: vec!["a".into(), "b".into()],
        });
        round_trip(ClusterEvent::Joined {
            id,
            room: "lobby".into(),
        });
        round_trip(ClusterEvent::Left {
            id,
            room: "lobby".into(),
        });
        round_trip(ClusterEvent::Presence {
            id,
            presence: "ada".into(),
        });
        round_trip(ClusterEvent::Heartbeat);
        round_trip(ClusterEvent::Announce);
        round_trip(ClusterEvent::Dropped);
        round_trip(ClusterEvent::Release {
            token: "00ff".into(),
        });
        round_trip(ClusterEvent::Checkpoint {
            token: "00ff".into(),
            record: Bytes::from_static(b"{\"count\":3}"),
            window_ms: 120_000,
        });
        round_trip(ClusterEvent::Forget {
            token: "00ff".into(),
        });
        round_trip(ClusterEvent::Released {
            token: "00ff".into(),
            to: 7,
        });
    }

    #[test]
    fn a_received_payload_is_shared_not_copied() {
        let frame = Bytes::from(encode(
            1,
            &ClusterEvent::DeliverTo {
                id: ConnectionId(1),
                message: Message::binary(vec![5; 64]),
            },
        ));
        let (_, ClusterEvent::DeliverTo { message, .. }) = decode(frame.clone()).unwrap() else {
            panic!("not a DeliverTo");
        };
        let Message::Binary(payload) = message else {
            panic!("not binary");
        };
        assert_eq!(payload.as_ptr(), frame[frame.len() - 64..].as_ptr());
    }

    #[test]
    fn garbage_is_an_error() {
        for frame in [
            &b""[..],
            b"\x02\x00\x01\x07",
            b"\x01\x00\x01\x09",
            b"\x01\x00\x01\x07x",
        ] {
            assert!(decode(Bytes::copy_from_slice(frame)).is_err(), "{frame:?}");
        }
        let bad_text = [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0xff];
        assert!(decode(Bytes::copy_from_slice(&bad_text)).is_err());
    }
}
