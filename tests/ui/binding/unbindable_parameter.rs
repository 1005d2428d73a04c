use gateway::prelude::*;

struct Chat;
struct Settings;

#[controller("chat")]
impl Chat {
    #[websocket("room")]
    async fn room(&self, settings: Settings) -> &'static str {
        let _ = settings;
        "ok"
    }
}

fn main() {}
