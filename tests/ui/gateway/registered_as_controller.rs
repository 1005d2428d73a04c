use gateway::prelude::*;

struct Chat;

#[gateway("chat")]
impl Chat {
    #[subscribe("message")]
    async fn message(&self, #[body] text: String) -> String {
        text
    }
}

fn main() {
    let _ = App::new().controller(Chat);
}
