//! Entry points for the fuzz targets in `fuzz/` (`cargo fuzz run <target>`): every parser that
//! reads bytes a client controls. Not an API.

use axum::http::{HeaderMap, HeaderValue};

/// The gateway style's event envelope.
pub fn event_envelope(data: &[u8]) {
    if let Some(event) = crate::event::parse_envelope(data) {
        let _ = (event.name.len(), event.id, event.body);
    }
}

/// The resume protocol's client messages (`$ack`, `$resume`): what reads as a resume request
/// names a token that writes back as it was read.
pub fn resume_request(data: &[u8]) {
    use crate::resume::protocol::{parse, ClientSays};
    use crate::resume::token::Token;
    if let Some(ClientSays::Resume { token, .. }) = parse(data) {
        assert_eq!(Token::parse(&token.to_string()), Some(token));
    }
}

/// `#[body("a.b")]`: the first line is the field path, the rest the message.
pub fn body_field(data: &[u8]) {
    let split = data
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(data.len());
    let (path, message) = data.split_at(split);
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    if let Ok(document) = serde_json::from_slice::<serde_json::Value>(message) {
        let _ = crate::bind::field_at::<serde_json::Value>(&document, path);
        let _ = crate::bind::field_at::<Option<String>>(&document, path);
        let _ = crate::bind::field_at::<u64>(&document, path);
    }
}

/// `#[query("name")]`: the first line is the name, the rest the query string.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (name, query) = text.split_once('\n').unwrap_or(("user", &text));
    let _ = crate::handshake::query_value(query, name);
}

/// The origin check: the first line is the `Origin` header, the rest the `Host` header.
pub fn origin(data: &[u8]) {
    let split = data
        .iter()
        .position(|&byte| byte == b'\n')
        .unwrap_or(data.len());
    let (origin, host) = data.split_at(split);
    let mut headers = HeaderMap::new();
    if let Ok(origin) = HeaderValue::from_bytes(origin) {
        headers.insert(axum::http::header::ORIGIN, origin);
    }
    if let Ok(host) = HeaderValue::from_bytes(host.get(1..).unwrap_or_default()) {
        headers.insert(axum::http::header::HOST, host);
    }
    let _ = crate::origin::OriginPolicy::default().admits(&headers);
}

/// A backplane frame as read from Redis (feature `redis`): decoding never panics, and what
/// decodes encodes back to a frame that decodes the same.
#[cfg(feature = "redis")]
pub fn backplane_frame(data: &[u8]) {
    use crate::backplane::{decode, encode};
    if let Ok((origin, event)) = decode(bytes::Bytes::copy_from_slice(data)) {
        let again = decode(bytes::Bytes::from(encode(origin, &event)));
        assert_eq!(again, Ok((origin, event)));
    }
}

/// The frame tracker in front of tungstenite: client bytes in pieces of any size (the first
/// byte picks the piece size). It never panics, hands out every byte exactly once, and counts
/// nothing in the budget once dropped.
pub fn inbound_frames(data: &[u8]) {
    use crate::inbound::{Frames, InboundLimits};
    let Some((&piece, bytes)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let limits = std::sync::Arc::new(InboundLimits::new(8, Default::default(), 1 << 16));
    let mut frames = Frames::new(std::sync::Arc::clone(&limits));
    let mut handed = 0;
    while handed < bytes.len() {
        let end = (handed + piece).min(bytes.len());
        match frames.advance(&bytes[handed..end]) {
            Ok(count) => {
                assert!(count > 0 && handed + count <= end);
                handed += count;
            }
            Err(_) => break,
        }
    }
    drop(frames);
    assert!(limits.is_idle());
}
