//! One handler call: [`Connection`](connection::Connection), the handle handlers get; the
//! context and what binds from it; replies; stored values, extensions and services; the
//! lifecycle components and the ready-made ones; the contract the macros describe.

pub(crate) mod ask;
pub(crate) mod bind;
pub(crate) mod closer;
pub(crate) mod connection;
pub(crate) mod context;
pub(crate) mod contract;
pub(crate) mod event;
pub(crate) mod extension;
pub(crate) mod handler;
pub(crate) mod json;
pub(crate) mod lifecycle;
pub(crate) mod phase;
pub(crate) mod ready_made;
pub(crate) mod reply;
pub(crate) mod services;
pub(crate) mod stored;
