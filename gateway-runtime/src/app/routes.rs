//! Routes at a glance: [`App::routes`] lists every route of an app, and
//! [`App::routes_table`] prints them as a table (as the examples do when they start).

use crate::app::App;
use crate::endpoint::{EndpointOptions, Mode};
use std::fmt::Write;
use std::time::Duration;

/// What kind of route a [`RouteInfo`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A `#[websocket]` endpoint: each message goes to its handler.
    WebSocket,
    /// A `#[gateway]`: one WebSocket endpoint whose messages are events.
    Gateway,
    /// An `#[sse]` event stream.
    EventStream,
    /// A plain axum route ([`App::route`]).
    Http,
}

impl RouteKind {
    /// How the routes table and the AsyncAPI document name the kind.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RouteKind::WebSocket => "websocket",
            RouteKind::Gateway => "gateway",
            RouteKind::EventStream => "sse",
            RouteKind::Http => "http",
        }
    }
}

/// One route of an app, as [`App::routes`] lists it.
///
/// ```
/// use gateway::prelude::*;
/// use gateway::app::RouteKind;
///
/// struct Chat;
///
/// #[gateway("chat", ping = "20s")]
/// impl Chat {}
///
/// let routes = App::new().gateway(Chat).routes();
/// assert_eq!(routes[0].path, "/chat");
/// assert_eq!(routes[0].kind, RouteKind::Gateway);
/// assert_eq!(routes[0].options, ["ping 20s"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    /// The path, as the router matches it (`/rooms/{room}`).
    pub path: String,
    /// What serves it.
    pub kind: RouteKind,
    /// How messages flow, for `#[websocket]` endpoints and gateways.
    pub mode: Option<Mode>,
    /// The options that differ from the defaults (`ping 20s`, `resume 2m`, ..).
    pub options: Vec<String>,
    /// `Type::method` (a gateway's type); `None` for a plain axum route.
    pub handler: Option<&'static str>,
    /// Its own listener's port, when it has one.
    pub port: Option<u16>,
}

impl App {
    /// Every route of the app, in the order they were added: endpoints, then plain routes.
    pub fn routes(&self) -> Vec<RouteInfo> {
        let endpoints = self.endpoints.specs().map(|(kind, spec)| RouteInfo {
            path: spec.path.to_owned(),
            kind,
            mode: (kind != RouteKind::EventStream).then_some(spec.options.mode),
            options: if kind == RouteKind::EventStream {
                Vec::new()
            } else {
                options(&spec.options)
            },
            handler: Some(spec.handler),
            port: spec.port,
        });
        let plain = self.http_routes.iter().map(|(path, _)| RouteInfo {
            path: path.clone(),
            kind: RouteKind::Http,
            mode: None,
            options: Vec::new(),
            handler: None,
            port: None,
        });
        endpoints.chain(plain).collect()
    }

    /// [`routes`](Self::routes) as a table, one route a line:
    ///
    /// ```text
    /// PATH   KIND     MODE    OPTIONS                          HANDLER
    /// /chat  gateway  TwoWay  ping 20s, max 16 KiB, resume 2m  ChatGateway
    /// /      http     -       -                                -
    /// ```
    pub fn routes_table(&self) -> String {
        let rows: Vec<[String; 5]> = self
            .routes()
            .into_iter()
            .map(|route| {
                let path = match route.port {
                    Some(port) => format!("{} (port {port})", route.path),
                    None => route.path,
                };
                let or_dash = |text: String| {
                    if text.is_empty() {
                        "-".to_owned()
                    } else {
                        text
                    }
                };
                [
                    path,
                    route.kind.name().to_owned(),
                    or_dash(
                        route
                            .mode
                            .map(|mode| format!("{mode:?}"))
                            .unwrap_or_default(),
                    ),
                    or_dash(route.options.join(", ")),
                    or_dash(route.handler.unwrap_or_default().to_owned()),
                ]
            })
            .collect();
        let header = ["PATH", "KIND", "MODE", "OPTIONS", "HANDLER"].map(str::to_owned);
        let mut widths = header.clone().map(|title| title.len());
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut table = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let _ = writeln!(table, "{}", line.join("  ").trim_end());
        }
        table
    }
}

/// The options that differ from the defaults, as short text.
pub(crate) fn options(options: &EndpointOptions) -> Vec<String> {
    let mut shown = Vec::new();
    if let Some(ping) = options.ping_interval {
        shown.push(format!("ping {}", duration(ping)));
    }
    if let Some(timeout) = options.ping_timeout {
        shown.push(format!("ping timeout {}", duration(timeout)));
    }
    if options.trigger_on_connect {
        shown.push("trigger on connect".to_owned());
    }
    if let Some(bytes) = options.max_message {
        shown.push(format!("max {}", size(bytes)));
    }
    if options.concurrency > 1 {
        shown.push(format!("concurrency {}", options.concurrency));
    }
    if let Some(window) = options.resume {
        shown.push(format!("resume {}", duration(window)));
    }
    shown
}

fn duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    match millis {
        _ if millis % 60_000 == 0 => format!("{}m", millis / 60_000),
        _ if millis % 1000 == 0 => format!("{}s", millis / 1000),
        _ => format!("{millis}ms"),
    }
}

fn size(bytes: usize) -> String {
    match bytes {
        _ if bytes % (1 << 20) == 0 => format!("{} MiB", bytes >> 20),
        _ if bytes % (1 << 10) == 0 => format!("{} KiB", bytes >> 10),
        _ => format!("{bytes} B"),
    }
}
