use gateway::prelude::*;

struct Chat {
    count: u64,
}

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&mut self, #[body] message: String) -> String {
        self.count += 1;
        message
    }
}

fn main() {}
