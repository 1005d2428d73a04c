use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("none", concurrency = 0)]
    async fn none(&self, #[body] message: String) -> String {
        message
    }
}

struct Feed;

#[controller("feed")]
impl Feed {
    #[websocket("words", concurrency = "four")]
    async fn words(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
