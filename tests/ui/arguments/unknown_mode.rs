use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room", mode = Duplex)]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
