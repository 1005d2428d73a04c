use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("a", mode = ReceiveOnly)]
    fn a(&self, #[body] message: String) -> String {
        message
    }

    #[websocket("b", ping = "soon")]
    async fn b(&self) {}

    #[websocket("c", mode = SendOnly)]
    async fn c(&self, #[body] _message: String) {}
}

fn main() {}
