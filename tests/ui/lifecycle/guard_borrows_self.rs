use gateway::prelude::*;

struct Admin {
    secret: String,
}

#[controller("admin")]
#[guard(BearerToken::new(|token| token == self.secret))]
impl Admin {
    #[websocket("console")]
    async fn console(&self) {}
}

fn main() {
    let _ = App::new().controller(Admin { secret: "s3cret".into() });
}
