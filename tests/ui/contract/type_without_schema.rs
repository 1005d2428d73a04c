// With feature `contract`, every body and answer type describes itself.
use gateway::prelude::*;

#[derive(serde::Deserialize)]
struct Join {
    room: String,
}

#[derive(serde::Serialize)]
struct Members {
    names: Vec<String>,
}

struct Chat;

#[gateway("chat")]
impl Chat {
    #[subscribe("join")]
    async fn join(&self, #[body] join: Json<Join>) -> Ack<Members> {
        Ack(Members { names: vec![join.0.room] })
    }
}

fn main() {}
