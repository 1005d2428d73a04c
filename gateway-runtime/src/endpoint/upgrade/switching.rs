//! The HTTP half of the upgrade: a request checked to be a WebSocket handshake (RFC 6455
//! §4.2.1) and the `101 Switching Protocols` answer prepared for it.

/// Checks an HTTP request is a WebSocket upgrade (RFC 6455 §4.2.1) and prepares the
/// `101 Switching Protocols` answer. `Err` is the answer for a request that is not one.
pub(crate) fn switching_protocols(
    parts: &mut axum::http::request::Parts,
) -> Result<(hyper::upgrade::OnUpgrade, axum::response::Response), Box<axum::response::Response>> {
    use axum::http::{header, HeaderValue, Method, StatusCode};
    use axum::response::IntoResponse;

    let refuse = |status: StatusCode, why: &'static str| Box::new((status, why).into_response());
    let has_token = |name: header::HeaderName, token: &str| {
        parts.headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if parts.method != Method::GET {
        return Err(refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "a WebSocket upgrade is a GET request",
        ));
    }
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this is a WebSocket endpoint: send `Upgrade: websocket`",
        ));
    }
    if parts
        .headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        let mut response = refuse(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        );
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        return Err(response);
    }
    let mut keys = parts.headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "exactly one `Sec-WebSocket-Key`",
        ));
    };
    if !is_websocket_key(key.as_bytes()) {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "`Sec-WebSocket-Key` must be a 16-byte nonce in base64 (24 characters)",
        ));
    }
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return Err(refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this connection cannot be upgraded",
        ));
    };
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(accept) = HeaderValue::from_str(&accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    Ok((on_upgrade, response))
}

/// A `Sec-WebSocket-Key` as RFC 6455 §4.1 defines it: 16 bytes in base64, so 22 characters of
/// the base64 alphabet and `==`.
fn is_websocket_key(key: &[u8]) -> bool {
    let base64 = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/');
    key.len() == 24 && key[..22].iter().all(base64) && &key[22..] == b"=="
}

#[cfg(test)]
mod tests {
    use super::is_websocket_key;

    #[test]
    fn websocket_keys_are_16_bytes_of_base64() {
        assert!(is_websocket_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(is_websocket_key(b"AAAAAAAAAAAAAAAAAAAA+/==")); // '+' and '/' are base64
        for bad in [
            &b""[..],
            b"abc",
            b"dGhlIHNhbXBsZSBub25jZQ", // no padding
            b"dGhlIHNhbXBsZSBub25jZQ=x",
            b"dGhlIHNhbXBsZSBub25j?Q==",
            b"dGhlIHNhbXBsZSBub25jZSBhbmQgbW9yZQ==", // 25 bytes
        ] {
            assert!(!is_websocket_key(bad), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
