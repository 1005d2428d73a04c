use crate::base::close::close_code;
use crate::call::context::MessageContext;
use crate::call::lifecycle::Interceptor;
use crate::call::reply::Reply;
use std::ops::ControlFlow;
use tokio::time::Instant;

/// An [`Interceptor`] that allows each connection `per_second` messages per second (bursts up to
/// that many); the first message over the limit closes the connection with 1008 "rate limit".
///
/// ```
/// use gateway::prelude::*;
///
/// let app = App::new().interceptor(RateLimit::per_second(20));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    per_second: f64,
}

impl RateLimit {
    /// At most `messages` per second per connection.
    pub fn per_second(messages: u32) -> Self {
        Self {
            per_second: f64::from(messages.max(1)),
        }
    }
}

/// A token bucket, kept per connection and per `RateLimit`.
#[derive(Default)]
struct Bucket {
    /// Tokens left and when they were counted; `None` until the first message.
    state: Option<(f64, Instant)>,
}

impl Interceptor for RateLimit {
    async fn pre(&self, ctx: &mut MessageContext) -> ControlFlow<Reply> {
        if ctx.body().is_none() {
            return ControlFlow::Continue(());
        }
        let now = Instant::now();
        let allowed = ctx.connection().with_local(self, |bucket: &mut Bucket| {
            let (tokens, since) = bucket.state.unwrap_or((self.per_second, now));
            let refilled = (tokens + now.duration_since(since).as_secs_f64() * self.per_second)
                .min(self.per_second);
            let allowed = refilled >= 1.0;
            bucket.state = Some((if allowed { refilled - 1.0 } else { refilled }, now));
            allowed
        });
        if allowed {
            return ControlFlow::Continue(());
        }
        ctx.connection()
            .closer()
            .close(close_code::POLICY_VIOLATION, "rate limit")
            .ok();
        ControlFlow::Break(Reply::Nothing)
    }
}
