use gateway::prelude::*;

struct Feed;

#[controller("feed")]
impl Feed {
    #[sse("events")]
    async fn events(&self, #[query("topic")] topic: String) -> impl gateway::reply::Stream<Item = String> + Send + 'static {
        futures_util::stream::iter([topic])
    }
}

fn main() {}
