use gateway::prelude::*;

struct Chat;

#[gateway("chat")]
impl Chat {
    #[on_connect]
    async fn joined(&self, #[body] _hello: String) {}

    #[on_disconnect]
    async fn left(&self) -> String {
        String::new()
    }

    #[subscribe("message")]
    async fn message(&self, #[body] text: String) -> String {
        text
    }

    #[subscribe("message")]
    async fn message_again(&self, #[body] text: String) -> String {
        text
    }

    #[subscribe]
    async fn nameless(&self) {}
}

fn main() {}
