#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub use gateway_macros::{controller, gateway, websocket};
pub use gateway_runtime::*;

/// Everything a typical app needs: `use gateway::prelude::*;`.
pub mod prelude {
    pub use crate::close_code;
    pub use gateway_macros::{controller, gateway, websocket};
    pub use gateway_runtime::{
        serve, serve_on, Ack, App, BearerToken, Bytes, CloseSummary, CloseWebSocket, Connection,
        ConnectionId, Each, Extension, FromContext, Hub, IntoResponse, Json, Message, RateLimit,
        RequireHeader, Response, StatusCode, TracingObserver, WsError,
    };
}
