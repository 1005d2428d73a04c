use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room", ping = "soon", mode = Sideways, colour = "blue", max_message = "lots")]
    async fn room(&self) {}
}

fn main() {}
