use gateway::prelude::*;

struct Feed;

#[controller("feed")]
impl Feed {
    #[sse("events/:topic")]
    fn events(&self) -> impl gateway::reply::Stream<Item = &'static str> + Send + 'static {
        futures_util::stream::iter(["one"])
    }

    #[websocket("events/:topic")]
    async fn publish(&self) {}
}

fn main() {}
