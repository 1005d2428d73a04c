use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&self, #[body] message: String) -> String {
        message
    }

    #[websocket("/room/")]
    async fn other_room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
