use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("hello", mode = SendOnly)]
    async fn hello(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
