use gateway::prelude::*;

struct Chat;

#[derive(serde::Serialize)]
struct ChatOut {
    text: String,
}

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&self, #[body] text: String) -> ChatOut {
        ChatOut { text }
    }
}

fn main() {}
