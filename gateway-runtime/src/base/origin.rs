//! The origin check: a browser's cross-site WebSocket handshake is refused unless allowed; and
//! the host check: a request naming a host the app does not serve is refused, when the app
//! says which hosts it serves.
//!
//! Browsers send cookies with a WebSocket handshake to any site, so without the origin check
//! any page the user visits could open a connection to this server as the user (cross-site
//! WebSocket hijacking). Non-browser clients send no `Origin` and pass. A page whose own name
//! is made to resolve to this server (DNS rebinding) sends its own name as both `Origin` and
//! `Host`, which passes the origin check: only a list of the hosts the app serves stops it.

use axum::http::{header, HeaderMap};

/// Which browser origins may open connections.
#[derive(Debug, Clone, Default)]
pub(crate) enum OriginPolicy {
    /// Only pages served from the same host and port as the WebSocket (the default).
    #[default]
    SameHost,
    /// The same host, and these origins (`https://app.example.com`).
    Allow(Vec<String>),
    /// Any origin: for public APIs that authenticate with tokens, not cookies.
    Any,
}

impl OriginPolicy {
    /// Whether a handshake with these headers may proceed.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers
            .get(header::ORIGIN)
            .and_then(|value| value.to_str().ok())
        else {
            return true;
        };
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::Allow(allowed)
                if allowed
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(origin)) =>
            {
                true
            }
            _ => headers
                .get(header::HOST)
                .and_then(|host| host.to_str().ok())
                .is_some_and(|host| same_host(origin, host)),
        }
    }
}

/// The hosts the app serves, when it says: a request whose `Host` names another is refused.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllowedHosts(Option<Vec<String>>);

impl AllowedHosts {
    pub(crate) fn new(hosts: Vec<String>) -> Self {
        Self(Some(hosts))
    }

    /// Whether a request with these headers names a host the app serves (any, when no list
    /// was given). The port is not compared.
    pub(crate) fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(allowed) = &self.0 else {
            return true;
        };
        let Some(host) = headers
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
        else {
            return false;
        };
        let name = match host.rsplit_once(':') {
            // `[::1]:8080` and `example.com:8080`, but not a bare IPv6 address's colons.
            Some((name, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => name,
            _ => host,
        };
        allowed
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (`host[:port]`), default ports included.
fn same_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false; // "null" and other opaque origins
    };
    let is = |name: &str| scheme.eq_ignore_ascii_case(name);
    let default_port = if is("http") || is("ws") {
        ":80"
    } else if is("https") || is("wss") {
        ":443"
    } else {
        return false;
    };
    // Compared without allocating: this runs on every browser handshake.
    let without_default = |authority: &str| -> usize {
        match authority.len().checked_sub(default_port.len()) {
            Some(cut) if authority.is_char_boundary(cut) && &authority[cut..] == default_port => {
                cut
            }
            _ => authority.len(),
        }
    };
    let (origin, host) = (
        &authority[..without_default(authority)],
        &host[..without_default(host)],
    );
    origin.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        }
        headers
    }

    #[test]
    fn same_host_origins_pass_and_others_do_not() {
        let policy = OriginPolicy::SameHost;
        assert!(policy.admits(&headers(None, "example.com")));
        assert!(policy.admits(&headers(
            Some("http://example.com:8080"),
            "example.com:8080"
        )));
        assert!(policy.admits(&headers(Some("https://Example.com"), "example.com:443")));
        assert!(!policy.admits(&headers(Some("https://evil.example"), "example.com")));
        assert!(!policy.admits(&headers(
            Some("http://example.com:8081"),
            "example.com:8080"
        )));
        assert!(!policy.admits(&headers(Some("null"), "example.com")));
    }

    #[test]
    fn only_the_hosts_an_app_serves_pass_when_it_names_them() {
        let hosts = AllowedHosts::new(vec!["chat.example.com".to_owned(), "[::1]".to_owned()]);
        assert!(hosts.admits(&headers(None, "chat.example.com")));
        assert!(hosts.admits(&headers(None, "Chat.Example.com:8080")));
        assert!(hosts.admits(&headers(None, "[::1]:8080")));
        assert!(!hosts.admits(&headers(Some("http://evil.example"), "evil.example")));
        assert!(!hosts.admits(&headers(None, "chat.example.com.evil.example")));
        assert!(AllowedHosts::default().admits(&headers(None, "anything")));
    }

    #[test]
    fn allowed_and_any() {
        let allowed = OriginPolicy::Allow(vec!["https://app.example.com".to_owned()]);
        assert!(allowed.admits(&headers(Some("https://app.example.com"), "api.example.com")));
        assert!(!allowed.admits(&headers(
            Some("https://other.example.com"),
            "api.example.com"
        )));
        assert!(OriginPolicy::Any.admits(&headers(
            Some("https://anywhere.example"),
            "api.example.com"
        )));
    }
}
