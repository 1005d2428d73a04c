//! [`Controller`] and [`Gateway`]: the types the macros make registrable with an [`App`](crate::App).

use crate::app::router::Endpoints;
use std::sync::Arc;

/// A type whose `impl` block carries `#[controller("prefix")]`: it lists its endpoints.
///
/// Implemented by the macro; add a controller to an app with [`App::controller`](crate::App::controller).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a controller",
    label = "`.controller(..)` takes a type whose `impl` carries `#[controller(\"prefix\")]`",
    note = "a type whose `impl` carries `#[gateway(\"path\")]` is added with `.gateway(..)`"
)]
pub trait Controller: Send + Sync + 'static {
    /// Adds every endpoint of this controller to `endpoints`.
    fn register(self: Arc<Self>, endpoints: &mut Endpoints);
}

/// A type whose `impl` block carries `#[gateway("path")]`: one endpoint routing events.
///
/// Implemented by the macro; add a gateway to an app with [`App::gateway`](crate::App::gateway).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a gateway",
    label = "`.gateway(..)` takes a type whose `impl` carries `#[gateway(\"path\")]`",
    note = "a type whose `impl` carries `#[controller(\"prefix\")]` is added with `.controller(..)`"
)]
pub trait Gateway: Send + Sync + 'static {
    /// Adds the gateway's endpoint to `endpoints`.
    fn register(self: Arc<Self>, endpoints: &mut Endpoints);
}
