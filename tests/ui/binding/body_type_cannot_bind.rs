use gateway::prelude::*;

struct Chat;

#[derive(serde::Deserialize)]
struct ChatIn {
    text: String,
}

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&self, #[body] message: ChatIn) -> String {
        message.text
    }
}

fn main() {}
