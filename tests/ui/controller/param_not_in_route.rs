use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("rooms/{room}")]
    async fn room(&self, #[param("name")] name: String) -> String {
        name
    }
}

fn main() {}
