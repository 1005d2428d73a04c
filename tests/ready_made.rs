//! The components users would otherwise write on day one.

mod common;

use common::Echo;
use gateway::prelude::*;
use gateway::test::{start, Client};

#[tokio::test]
async fn require_header_refuses_clients_without_it() {
    let addr = start(App::new().guard(RequireHeader("x-user")).controller(Echo)).await;
    assert_eq!(
        Client::connect_with(addr, "/echo", &[]).await.err(),
        Some(403)
    );
    let mut client = Client::connect_with(addr, "/echo", &[("x-user", "ada")])
        .await
        .unwrap();
    assert_eq!(client.ask("in").await, "in");
}

#[tokio::test]
async fn bearer_token_asks_the_closure() {
    let app = App::new()
        .guard(BearerToken::new(|token| token.starts_with("valid-")))
        .controller(Echo);
    let addr = start(app).await;
    let basic = [("authorization", "Basic dXNlcjpwYXNz")];
    assert_eq!(
        Client::connect_with(addr, "/echo", &basic).await.err(),
        Some(403)
    );
    let forged = [("authorization", "Bearer forged")];
    assert_eq!(
        Client::connect_with(addr, "/echo", &forged).await.err(),
        Some(403)
    );
    let bearer = [("authorization", "Bearer valid-1")];
    assert!(Client::connect_with(addr, "/echo", &bearer).await.is_ok());
}

#[tokio::test]
async fn rate_limit_closes_a_flooding_client_with_1008() {
    let addr = start(
        App::new()
            .interceptor(RateLimit::per_second(1))
            .controller(Echo),
    )
    .await;
    let mut flooder = Client::connect(addr, "/echo").await;
    for index in 0..5 {
        flooder.send_text(&index.to_string()).await;
    }
    // One message a second: the first is answered, the second ends the connection.
    assert_eq!(flooder.recv_text().await, "0");
    assert_eq!(
        flooder.expect_close().await,
        (1008, "rate limit".to_owned())
    );

    // The limit is per connection: a newcomer starts with a full bucket.
    let mut newcomer = Client::connect(addr, "/echo").await;
    assert_eq!(newcomer.ask("hello").await, "hello");
}
