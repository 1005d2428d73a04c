use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room", pingg = "5s")]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
