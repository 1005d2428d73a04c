use gateway::prelude::*;

struct Feed;

#[gateway("feed")]
impl Feed {
    #[sse("news")]
    async fn news(&self) -> impl gateway::reply::Stream<Item = gateway::sse::Event> + Send + 'static {
        futures_util::stream::empty()
    }
}

fn main() {}
