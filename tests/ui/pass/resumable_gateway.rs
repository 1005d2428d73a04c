use gateway::prelude::*;

struct Chat;

#[gateway("chat", resume = "2m")]
impl Chat {
    #[on_connect]
    async fn joined(&self, conn: Connection) {
        conn.join("lobby");
    }

    #[on_resume]
    async fn back(&self, conn: Connection) -> Json<serde_json::Value> {
        Json(serde_json::json!({"event": "back", "data": conn.rooms()}))
    }

    #[on_disconnect]
    async fn left(&self, summary: CloseSummary) {
        let _ = summary;
    }
}

fn main() {
    let _app = App::new().gateway(Chat);
}
