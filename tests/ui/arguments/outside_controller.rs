use gateway::prelude::*;

struct Chat;

impl Chat {
    #[websocket("room")]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
