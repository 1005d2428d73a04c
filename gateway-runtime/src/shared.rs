//! [`AppShared`]: what every endpoint and connection of a built app shares.

use crate::hub::Hub;
use crate::io::limits::InboundLimits;
use crate::origin::OriginPolicy;
use crate::services::Services;
use crate::settings::Settings;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What every endpoint and connection of the app shares.
pub(crate) struct AppShared {
    pub(crate) settings: Settings,
    pub(crate) services: Arc<Services>,
    pub(crate) hub: Hub,
    /// The bounds on incomplete messages, with the app-wide count of what they hold.
    pub(crate) inbound: Arc<InboundLimits>,
    pub(crate) origins: OriginPolicy,
    pub(crate) draining: Arc<AtomicBool>,
}

impl AppShared {
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

    /// Why a new connection may not open now, as the HTTP answer, before anything else runs.
    pub(crate) fn refusal(&self, headers: &axum::http::HeaderMap) -> Option<Response> {
        if let Some(refusal) = self.shutting_down() {
            return Some(refusal);
        }
        if self.hub.local_count() >= self.settings.max_connections {
            return Some((StatusCode::SERVICE_UNAVAILABLE, "too many connections").into_response());
        }
        if !self.origins.admits(headers) {
            return Some(
                (
                    StatusCode::FORBIDDEN,
                    "cross-origin WebSocket handshakes are not allowed here",
                )
                    .into_response(),
            );
        }
        None
    }
}
