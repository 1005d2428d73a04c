use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
