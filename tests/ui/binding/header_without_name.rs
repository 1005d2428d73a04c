use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&self, #[header] user: String) -> String {
        user
    }
}

fn main() {}
