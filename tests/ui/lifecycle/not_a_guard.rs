use gateway::prelude::*;

struct Chat;
struct AllowEveryone;

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    #[guard(AllowEveryone)]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
