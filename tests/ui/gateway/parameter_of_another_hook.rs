use gateway::prelude::*;

struct Chat;

#[gateway("chat")]
impl Chat {
    /// How the connection ended exists only once it has: in `#[on_disconnect]`.
    #[subscribe("message")]
    async fn message(&self, summary: CloseSummary) {
        let _ = summary;
    }

    /// The error exists only in `#[on_error]`.
    #[on_connect]
    async fn joined(&self, error: &WsError) {
        let _ = error;
    }

    /// In `#[on_error]`, the error is `&WsError`: another reference is not it.
    #[on_error]
    async fn failed(&self, error: &str) {
        let _ = error;
    }
}

fn main() {
    let _ = App::new().gateway(Chat);
}
