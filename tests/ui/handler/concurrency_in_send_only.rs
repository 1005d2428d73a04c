use gateway::prelude::*;

struct Ticker;

#[controller("ticker")]
impl Ticker {
    #[websocket("tick", mode = SendOnly, concurrency = 4)]
    async fn tick(&self) -> String {
        "tick".to_owned()
    }
}

fn main() {}
