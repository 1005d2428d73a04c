use gateway::prelude::*;

struct Feed;

#[controller("")]
impl Feed {
    #[interceptor(RateLimit::per_second(5))]
    #[sse("events")]
    fn events(&self) -> impl gateway::reply::Stream<Item = &'static str> + Send + 'static {
        futures_util::stream::iter(["one"])
    }
}

fn main() {}
