use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("rooms/:room")]
    async fn room(&self, #[param("room")] room: String) -> String {
        room
    }
}

fn main() {}
