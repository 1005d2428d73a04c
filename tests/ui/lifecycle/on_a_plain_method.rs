use gateway::prelude::*;

struct Chat;

#[controller("chat")]
impl Chat {
    #[guard(RequireHeader("x-user"))]
    async fn helper(&self) -> String {
        String::new()
    }
}

fn main() {}
