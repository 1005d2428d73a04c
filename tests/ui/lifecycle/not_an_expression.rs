use gateway::prelude::*;

struct Chat;

#[controller("chat")]
#[guard]
#[observer(let quiet = true)]
impl Chat {
    #[websocket("room")]
    #[middleware(struct Auth;)]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
