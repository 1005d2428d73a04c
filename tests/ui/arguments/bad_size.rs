use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room", max_message = "64 kilobytes")]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
