use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room", ping = "5s", ping = "10s")]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
