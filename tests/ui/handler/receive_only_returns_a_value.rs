use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("log", mode = ReceiveOnly)]
    async fn log(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
