//! Close codes: the constants, which codes a server may send, and how long a reason may be.

/// Close codes by name (RFC 6455 §7.4.1). Any code in 3000–4999 is also allowed.
pub mod close_code {
    /// 1000: the purpose of the connection is fulfilled.
    pub const NORMAL: u16 = 1000;
    /// 1001: the server is going down or the client navigated away.
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: the peer broke the WebSocket protocol.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a data type the endpoint cannot accept (e.g. binary where only text is understood).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// 1007: a message's payload was not consistent with its type (e.g. invalid UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: a message violated the server's policy.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// 1009: a message was larger than the endpoint accepts.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: u16 = 1010;
    /// 1011: the server met an unexpected condition (a panic, a missed ping).
    pub const INTERNAL_ERROR: u16 = 1011;
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: u16 = 1012;
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// 1014: a gateway or proxy got an invalid response upstream.
    pub const BAD_GATEWAY: u16 = 1014;
    /// 4000: a resumable session was resumed on another connection; this one is no longer its
    /// client's (see the README's "Resumable sessions").
    pub const RESUMED_ELSEWHERE: u16 = 4000;
    /// 1005: reported (never sent) when a Close frame carried no code.
    pub const NO_STATUS: u16 = 1005;
}

/// A Close frame's payload is at most 125 bytes (RFC 6455 §5.5); two of them carry the code.
pub const MAX_CLOSE_REASON_BYTES: usize = 123;

/// The code given to [`CloseWebSocket::close`](crate::CloseWebSocket::close) may not be sent in a Close frame.
///
/// ```
/// # fn demo(closer: gateway::close::CloseWebSocket) {
/// use gateway::close::InvalidCloseCode;
/// assert_eq!(closer.close(1005, "reserved"), Err(InvalidCloseCode(1005)));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("close code {0} may not be sent: use 1000, 1001-1003, 1007-1014 or 3000-4999")]
pub struct InvalidCloseCode(pub u16);

/// Whether a code may be sent in a Close frame by a server.
pub(crate) fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// The longest prefix of `reason` that fits a Close frame without splitting a character.
pub(crate) fn truncate_close_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_CLOSE_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_follow_rfc_6455() {
        for code in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
            assert!(is_sendable_close_code(code), "{code}");
        }
        for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
            assert!(!is_sendable_close_code(code), "{code}");
        }
    }

    #[test]
    fn reason_is_cut_on_a_character_boundary() {
        let reason = "é".repeat(200);
        let cut = truncate_close_reason(&reason);
        assert_eq!(cut.len(), 122);
        assert_eq!(cut, "é".repeat(61));
        assert_eq!(truncate_close_reason("short"), "short");
        assert_eq!(truncate_close_reason(&"a".repeat(200)).len(), 123);
    }
}
