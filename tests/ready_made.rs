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

/// Five messages a second on one endpoint, under an app-wide hundred.
struct Limited;

#[controller("")]
impl Limited {
    #[websocket("limited")]
    #[interceptor(RateLimit::per_second(5))]
    async fn limited(&self, #[body] message: String) -> String {
        message
    }
}

#[tokio::test]
async fn two_rate_limits_on_one_connection_count_apart() {
    let app = App::new()
        .interceptor(RateLimit::per_second(100))
        .controller(Limited);
    let addr = start(app).await;
    let mut client = Client::connect(addr, "/limited").await;
    for index in 0..10 {
        client.send_text(&index.to_string()).await;
    }
    // The method's limit of 5 decides, each message charged once to each limit: five are
    // answered (one more if a token refilled meanwhile), then the connection closes. Sharing
    // one bucket, a message was charged twice and the fourth closed it.
    let mut answered = 0;
    loop {
        match client.next_data().await {
            gateway::reply::Message::Text(text) => {
                assert_eq!(text.as_str(), answered.to_string());
                answered += 1;
            }
            gateway::reply::Message::Close(Some(frame)) => {
                assert_eq!(
                    (u16::from(frame.code), frame.reason.as_str()),
                    (1008, "rate limit")
                );
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!((5..10).contains(&answered), "{answered} answered");
}
