//! Components a user would otherwise write on day one.

mod bearer_token;
mod rate_limit;
mod require_header;
mod tracing_observer;

pub use bearer_token::BearerToken;
pub use rate_limit::RateLimit;
pub use require_header::RequireHeader;
pub use tracing_observer::TracingObserver;
