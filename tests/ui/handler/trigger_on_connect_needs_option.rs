use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room", trigger_on_connect)]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
