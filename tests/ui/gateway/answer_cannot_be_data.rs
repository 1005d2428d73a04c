use gateway::prelude::*;

struct Chat;
struct Receipt;

#[gateway("chat")]
impl Chat {
    #[subscribe("message")]
    async fn message(&self) -> Receipt {
        Receipt
    }
}

fn main() {}
