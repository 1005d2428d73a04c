use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("echo", port = 3001)]
    async fn echo(&self, #[body] text: String) -> String {
        text
    }
}

fn main() {}
