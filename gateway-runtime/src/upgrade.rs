//! The upgrade: a WebSocket handshake through the app's checks and the handshake half of the
//! lifecycle, then the connection's task from its start to its end.

use crate::connection::Connection;
use crate::context::MessageContext;
use crate::endpoint::Endpoint;
use crate::handshake::Handshake;
use crate::lifecycle::{CloseSummary, ClosedBy};
use crate::session::Session;
use crate::transport;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;
use tracing::Instrument;

/// Runs the handshake half of the lifecycle, answers the upgrade request and starts the
/// connection's task. A refused client costs no upgrade, no task and no buffers.
pub(crate) async fn upgrade(endpoint: Arc<Endpoint>, request: Request) -> Response {
    let started = Instant::now();
    let (mut parts, _body) = request.into_parts();
    let (on_upgrade, switching_protocols) = match transport::switching_protocols(&mut parts) {
        Ok(upgrade) => upgrade,
        Err(refusal) => return *refusal,
    };
    if let Some(refusal) = endpoint.app.refusal(&parts.headers) {
        return refusal;
    }
    let mut handshake = match handshake_of(&mut parts).await {
        Ok(handshake) => handshake,
        Err(rejection) => return rejection,
    };
    if let Err(response) = endpoint.lifecycle.admit(&mut handshake).await {
        let summary = CloseSummary {
            client_id: None,
            path: handshake.uri.path().to_owned(),
            closed_by: ClosedBy::Rejected(response.status()),
            code: None,
            reason: String::new(),
            duration: started.elapsed(),
            messages_in: 0,
            messages_out: 0,
            error: None,
        };
        endpoint.lifecycle.closed(&summary).await;
        return response;
    }
    let app = &endpoint.app;
    let max_message = endpoint
        .options
        .max_message
        .unwrap_or(app.settings.max_message);
    // The client is reachable through the hub as soon as it has its 101.
    let id = app.hub.next_id();
    let path: Arc<str> = Arc::from(handshake.uri.path());
    let span = tracing::info_span!("connection", client_id = %id, path = %path);
    let connection = Connection::open(id, handshake, app);
    app.hub.register(&connection, path);
    let task = async move {
        let app = &endpoint.app;
        let Ok(upgraded) = on_upgrade.await else {
            app.hub.unregister(id);
            return;
        };
        let socket = transport::accept(upgraded, max_message, Arc::clone(&app.inbound)).await;
        let session = Session::new(&endpoint, socket, connection.clone(), started);
        let summary = session.run().await;
        connection.outbound().close();
        app.hub.unregister(id);
        let ctx = MessageContext::closed(connection, summary);
        endpoint.handler.on_disconnect(&ctx).await;
        if let Some(summary) = ctx.close_summary() {
            endpoint.lifecycle.closed(summary).await;
        }
    };
    // Without a subscriber the span is disabled; entering it on every poll would still cost.
    if span.is_disabled() {
        tokio::spawn(task);
    } else {
        tokio::spawn(task.instrument(span));
    }
    switching_protocols
}

/// What handlers and components see of a request: headers, URI, path parameters, address.
pub(crate) async fn handshake_of(
    parts: &mut axum::http::request::Parts,
) -> Result<Handshake, Response> {
    let path_params = match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => params
            .iter()
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect(),
        Err(rejection) => return Err(rejection.into_response()),
    };
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0);
    Ok(Handshake::new(
        &parts.headers,
        &parts.uri,
        path_params,
        remote_addr,
    ))
}
