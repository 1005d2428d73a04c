use gateway::prelude::*;

struct Chat;

#[gateway("chat")]
impl Chat {
    #[websocket("echo")]
    async fn echo(&self, #[body] text: String) -> String {
        text
    }
}

fn main() {}
