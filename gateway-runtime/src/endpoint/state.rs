//! [`AppState`]: what every endpoint of a built app shares.

use crate::base::origin::{AllowedHosts, OriginPolicy};
use crate::base::settings::Settings;
use crate::call::services::Services;
use crate::hub::Hub;
use crate::io::limits::InboundLimits;
use crate::io::sockets::{SocketSlot, Sockets};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every endpoint and connection of the app shares.
pub(crate) struct AppState {
    pub(crate) settings: Settings,
    pub(crate) services: Arc<Services>,
    pub(crate) hub: Hub,
    /// The bounds on incomplete messages, with the app-wide count of what they hold.
    pub(crate) inbound: Arc<InboundLimits>,
    /// What resumable sessions keep, app-wide, against `ResumeLimits::kept_bytes`.
    pub(crate) kept: Arc<crate::endpoint::resume::kept::KeptBytes>,
    /// The sockets held open for clients, against `max_connections`.
    pub(crate) sockets: Arc<Sockets>,
    pub(crate) origins: OriginPolicy,
    pub(crate) hosts: AllowedHosts,
    pub(crate) draining: Arc<AtomicBool>,
}

impl AppState {
    /// What a connection keeps of the app: its hub, services and settings.
    pub(crate) fn parts(&self) -> (&Hub, &Arc<Services>, &Settings) {
        (&self.hub, &self.services, &self.settings)
    }

    /// The server has begun its graceful shutdown.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// HTTP 503 while the server drains: no new connection or event stream opens.
    pub(crate) fn shutting_down(&self) -> Option<Response> {
        self.is_draining().then(|| {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is shutting down",
            )
                .into_response()
        })
    }

    /// A new WebSocket connection's slot among the app's sockets, or the HTTP answer of why it
    /// may not open now, before anything else runs.
    pub(crate) fn admit_connection(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<SocketSlot, Response> {
        self.admit_host(headers)?;
        if !self.origins.admits(headers) {
            return Err((
                StatusCode::FORBIDDEN,
                "cross-origin WebSocket handshakes are not allowed here",
            )
                .into_response());
        }
        self.admit_socket()
    }

    /// HTTP 403 for a request naming a host the app does not serve (see `App::allow_hosts`).
    pub(crate) fn admit_host(&self, headers: &axum::http::HeaderMap) -> Result<(), Response> {
        if self.hosts.admits(headers) {
            return Ok(());
        }
        Err((
            StatusCode::FORBIDDEN,
            "this server does not serve that host",
        )
            .into_response())
    }

    /// A slot for a socket held open for a client (a connection, an event stream), unless the
    /// server drains or holds `max_connections` already (HTTP 503).
    pub(crate) fn admit_socket(&self) -> Result<SocketSlot, Response> {
        if let Some(refusal) = self.shutting_down() {
            return Err(refusal);
        }
        self.sockets.admit().ok_or_else(|| {
            (StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response()
        })
    }
}
