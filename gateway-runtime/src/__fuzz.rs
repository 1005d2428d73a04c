//! Entry points for the fuzz targets in `fuzz/` (`cargo fuzz run <target>`): every parser that
//! reads bytes a client controls. Not an API.

use axum::http::{HeaderMap, HeaderValue};

/// The gateway style's event envelope, and its `data` bound as a `#[subscribe]` handler's
/// `String` and `Json<T>` parameters would bind it.
pub fn event_envelope(data: &[u8]) {
    use crate::call::bind::FromBody;
    let Some(event) = crate::call::event::parse_envelope(data) else {
        return;
    };
    if let Some(body) = &event.body {
        let _ = String::from_event_data(body);
        let _ = crate::call::json::Json::<serde_json::Value>::from_event_data(body);
    }
}

/// The protocol's client messages (`$ack`, `$resume`, `$ping`, answers to the server's
/// requests): what reads as a resume request names a token that writes back as it was read.
pub fn resume_request(data: &[u8]) {
    use crate::base::protocol::{parse, ClientSays};
    use crate::base::token::Token;
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
        let _ = crate::call::bind::field_at::<serde_json::Value>(&document, path);
        let _ = crate::call::bind::field_at::<Option<String>>(&document, path);
        let _ = crate::call::bind::field_at::<u64>(&document, path);
    }
}

/// `#[query("name")]`: the first line is the name, the rest the query string.
pub fn query(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (name, query) = text.split_once('\n').unwrap_or(("user", &text));
    let _ = crate::base::handshake::query_value(query, name);
}

/// The checks of request headers: the first line is the `Origin` header (and, for the client
/// script, an `If-None-Match`), the rest the `Host` header.
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
    let _ = crate::base::origin::OriginPolicy::default().admits(&headers);
    let _ = crate::base::origin::AllowedHosts::new(vec!["example.com".to_owned()]).admits(&headers);
    let _ = crate::app::client_script::none_match_fails(origin, "\"0123456789abcdef\"");
}

/// A backplane frame as read from Redis (feature `redis`): decoding never panics, and what
/// decodes encodes back to a frame that decodes the same.
#[cfg(feature = "redis")]
pub fn backplane_frame(data: &[u8]) {
    use crate::hub::backplane::{decode, encode};
    if let Ok((origin, event)) = decode(bytes::Bytes::copy_from_slice(data)) {
        let again = decode(bytes::Bytes::from(encode(origin, &event)));
        assert_eq!(again, Ok((origin, event)));
    }
}

/// The WebSocket reader: client bytes in pieces of any size (the first byte picks the piece
/// size, the second the message size limit). It never panics; every read takes bytes off the
/// input or waits for more with all of them accounted for (a second read without new bytes
/// changes nothing); an error is final, after which the rest is skipped frame by frame (see
/// `Reader::drain`); and nothing counts in the budget once it is dropped.
pub fn frames(data: &[u8]) {
    use crate::io::limits::InboundLimits;
    use crate::io::reader::Reader;
    let [piece, max_message, bytes @ ..] = data else {
        return;
    };
    let piece = usize::from(*piece).max(1);
    let max_message = usize::from(*max_message) << 8;
    let limits = std::sync::Arc::new(InboundLimits::new(8, Default::default(), 1 << 16));
    let mut reader = Reader::new(
        bytes::BytesMut::new(),
        std::sync::Arc::clone(&limits),
        max_message,
    );
    let mut failed = false;
    for chunk in bytes.chunks(piece) {
        reader.input.extend_from_slice(chunk);
        if failed {
            if reader.drain() != crate::io::reader::Drained::More {
                break;
            }
            continue;
        }
        loop {
            let before = reader.input.len();
            match reader.read() {
                Ok(Some(_)) => assert!(reader.input.len() < before, "a message out of nothing"),
                Ok(None) => {
                    let waiting = reader.input.len();
                    assert_eq!(reader.read(), Ok(None), "waiting, then not");
                    assert_eq!(reader.input.len(), waiting, "bytes taken while waiting");
                    break;
                }
                Err(error) => {
                    assert_eq!(reader.read(), Err(error), "an error that did not last");
                    failed = true;
                    break;
                }
            }
        }
    }
    drop(reader);
    assert_eq!(limits.held(), 0);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// How long one input may take, as `-timeout` in CI's fuzzing: longer is a hang.
    const HANG: Duration = Duration::from_secs(2);

    /// A fuzz target: its name (its folder in `fuzz/corpus/`) and its entry point.
    type Target = (&'static str, fn(&[u8]));

    /// Every input of `fuzz/corpus/<target>/` (the seeds, and every input that ever crashed or
    /// hung) through its target's entry point, so a regression fails `cargo test` without a
    /// fuzzer.
    #[test]
    fn the_committed_corpus_passes_every_target() {
        let targets: &[Target] = &[
            ("frames", super::frames),
            ("event_envelope", super::event_envelope),
            ("resume_request", super::resume_request),
            ("body_field", super::body_field),
            ("query", super::query),
            ("origin", super::origin),
            #[cfg(feature = "redis")]
            ("backplane_frame", super::backplane_frame),
        ];
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for &(target, entry) in targets {
            let files: Vec<_> = std::fs::read_dir(corpus.join(target))
                .unwrap_or_else(|error| panic!("fuzz/corpus/{target}: {error}"))
                .map(|file| file.unwrap().path())
                .collect();
            assert!(!files.is_empty(), "fuzz/corpus/{target} has no seeds");
            for file in files {
                let input = std::fs::read(&file).unwrap();
                let (done, finished) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    entry(&input);
                    done.send(()).ok();
                });
                match finished.recv_timeout(HANG) {
                    Ok(()) => {}
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                        panic!("{} hangs {target}", file.display())
                    }
                    Err(_) => panic!("{} crashes {target}", file.display()),
                }
            }
        }
    }
}
