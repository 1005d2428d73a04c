use gateway::prelude::*;

struct Chat;

#[controller("chat")]
#[gaurd(RequireHeader("x-user"))]
impl Chat {
    #[websocket("room")]
    #[intercepter(RateLimit::per_second(5))]
    async fn room(&self, #[body] message: String) -> String {
        message
    }
}

fn main() {}
