use gateway::prelude::*;

struct Feed;

#[gateway("feed")]
impl Feed {
    #[sse("news")]
    async fn news(&self) -> impl gateway::Stream<Item = gateway::Event> + Send + 'static {
        futures_util::stream::empty()
    }
}

fn main() {}
