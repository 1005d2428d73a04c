use gateway::prelude::*;

struct Chat;
struct Database;

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&self, #[dep] database: Database) -> &'static str {
        let _ = database;
        "ok"
    }
}

fn main() {}
