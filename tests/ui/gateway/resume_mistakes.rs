use gateway::prelude::*;

struct Chat;

// `#[on_resume]` without the `resume` option, and an event in the protocol's namespace.
#[gateway("chat")]
impl Chat {
    #[on_resume]
    async fn back(&self) {}

    #[subscribe("$ack")]
    async fn ack(&self) {}
}

struct Echo;

// A plain endpoint has no envelope to carry the protocol.
#[controller("")]
impl Echo {
    #[websocket("echo", resume = "2m")]
    async fn echo(&self, #[body] text: String) -> String {
        text
    }
}

struct Late;

// A window that is not a duration.
#[gateway("late", resume = "forever")]
impl Late {}

fn main() {}
