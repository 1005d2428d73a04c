//! The server asking its clients (`conn.request`, `hub.room(..).request`) and the protocol's
//! heartbeat (`$ping`, `$pong`), over real sockets.

use futures_util::StreamExt;
use gateway::prelude::*;
use gateway::test::{start, Client};
use serde_json::{json, Value};
use std::time::Duration;

/// Asks the client what it is told to, and answers the client with what came back.
struct Asker;

#[gateway("ask", resume = "30s")]
impl Asker {
    #[on_connect]
    async fn joined(&self, conn: Connection) {
        conn.join("jury");
    }

    /// `{"event": E, "data": D, "within_ms": T}`: asks the client `E` with `D`.
    #[subscribe("ask")]
    async fn ask(&self, #[body] Json(ask): Json<Value>, conn: Connection) -> Ack<Value> {
        let timeout = Duration::from_millis(ask["within_ms"].as_u64().unwrap_or(5000));
        let event = ask["event"].as_str().unwrap_or("question");
        let answer = conn
            .request::<Value>(event, &ask["data"])
            .timeout(timeout)
            .await;
        Ack(match answer {
            Ok(data) => json!({"answer": data}),
            Err(AnswerError::Refused { message, status }) => {
                json!({"refused": message, "status": status})
            }
            Err(error) => json!({"failed": error.to_string()}),
        })
    }
}

/// Reads until the server's request for `event`; returns its id and data.
async fn asked(client: &mut Client, event: &str) -> (u64, Value) {
    loop {
        let message: Value = client.recv_json().await;
        if message["event"] == event {
            let id = message["id"].as_u64().expect("a request carries an id");
            return (id, message["data"].clone());
        }
    }
}

/// Sends `{"event":"ask", ..}` without waiting (its answer comes after the server's request).
async fn ask(client: &mut Client, id: u64, ask: Value) {
    client
        .send_json(&json!({"event": "ask", "data": ask, "id": id}))
        .await;
}

/// Reads until the answer to the client's own request `id`.
async fn answer_to(client: &mut Client, id: u64) -> Value {
    loop {
        let message: Value = client.recv_json().await;
        if message["ack"] == id {
            return message["data"].clone();
        }
    }
}

#[tokio::test]
async fn a_handler_asks_its_client_and_gets_the_answer_or_its_error() {
    let addr = start(App::new().gateway(Asker)).await;
    let mut ada = Client::connect(addr, "/ask").await;
    ask(&mut ada, 1, json!({"event": "question", "data": "2 + 2?"})).await;
    let (id, data) = asked(&mut ada, "question").await;
    assert_eq!(data, "2 + 2?");
    // While the handler waits, the connection is alive to the client's heartbeat, also after
    // a message of the app's that waits for the handler to end.
    ada.send_json(&json!({"event": "ask", "data": {"event": "later"}, "id": 9}))
        .await;
    ada.send_json(&json!({"event": "$ping"})).await;
    assert_eq!(ada.recv_json::<Value>().await["event"], "$pong");
    ada.send_json(&json!({"ack": id, "data": 4})).await;
    assert_eq!(answer_to(&mut ada, 1).await, json!({"answer": 4}));
    // Then the held message is handled, in order.
    let (later, _) = asked(&mut ada, "later").await;
    ada.send_json(&json!({"ack": later, "data": 5})).await;
    assert_eq!(answer_to(&mut ada, 9).await, json!({"answer": 5}));
    // An error answer, as the official client sends for an event it has no handler for.
    ask(&mut ada, 2, json!({"event": "unknown"})).await;
    let (id, _) = asked(&mut ada, "unknown").await;
    ada.send_json(&json!({"ack": id, "error": "no handler for `unknown`", "status": 404}))
        .await;
    assert_eq!(
        answer_to(&mut ada, 2).await,
        json!({"refused": "no handler for `unknown`", "status": 404})
    );
}

#[tokio::test]
async fn a_request_without_an_answer_times_out_and_a_late_answer_is_dropped() {
    let addr = start(App::new().gateway(Asker)).await;
    let mut ada = Client::connect(addr, "/ask").await;
    ask(&mut ada, 1, json!({"event": "question", "within_ms": 100})).await;
    let (id, _) = asked(&mut ada, "question").await;
    assert_eq!(
        answer_to(&mut ada, 1).await,
        json!({"failed": "no answer within 100ms"})
    );
    // Too late: nobody waits for it, and it reaches no handler either.
    ada.send_json(&json!({"ack": id, "data": 4})).await;
    assert_eq!(
        ada.request::<Value>("ask", &json!({"event": "again", "within_ms": 1}))
            .await
            .unwrap(),
        json!({"failed": "no answer within 1ms"})
    );
}

#[tokio::test]
async fn requests_waiting_for_one_client_are_bounded() {
    let app = App::new().max_client_requests(2).gateway(Asker);
    let hub = app.hub();
    let addr = start(app).await;
    let mut ada = Client::connect(addr, "/ask").await;
    let _ = ada.session().await;
    let waiting: Vec<_> = (0..2)
        .map(|n| {
            let mut answers = hub.room("jury").request::<Value>("question", &n);
            tokio::spawn(async move { answers.next().await })
        })
        .collect();
    for _ in 0..2 {
        asked(&mut ada, "question").await;
    }
    // Two wait for her answers: a third is refused at once, and not sent.
    let third = hub
        .room("jury")
        .request::<Value>("question", &2)
        .next()
        .await;
    assert_eq!(
        third.map(|(_, answer)| answer),
        Some(Err(AnswerError::TooMany))
    );
    for task in waiting {
        task.abort();
    }
}

#[tokio::test]
async fn a_room_is_asked_as_a_stream_of_answers_that_ends_at_the_timeout() {
    let app = App::new().gateway(Asker);
    let hub = app.hub();
    let addr = start(app).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = Client::connect(addr, "/ask").await;
        let _ = client.session().await;
        clients.push(client);
    }
    let ids: Vec<ConnectionId> = hub.room("jury").members();
    assert_eq!(ids.len(), 3);
    let answers = hub
        .room("jury")
        .request::<bool>("approve", &"the motion")
        .timeout(Duration::from_millis(500));
    // The first answers yes, the second no, the third stays silent.
    let (collected, ()) = tokio::join!(answers.collect::<Vec<_>>(), async {
        for (client, vote) in clients.iter_mut().zip([Some(true), Some(false), None]) {
            let (id, data) = asked(client, "approve").await;
            assert_eq!(data, "the motion");
            if let Some(vote) = vote {
                client.send_json(&json!({"ack": id, "data": vote})).await;
            }
        }
    });
    let mut verdicts: Vec<String> = collected
        .into_iter()
        .map(|(id, answer)| {
            assert!(ids.contains(&id));
            match answer {
                Ok(vote) => vote.to_string(),
                Err(error) => error.to_string(),
            }
        })
        .collect();
    verdicts.sort();
    assert_eq!(verdicts, ["false", "no answer within 500ms", "true"]);
}

#[tokio::test]
async fn a_request_made_while_the_client_is_away_waits_for_its_resume() {
    let app = App::new().gateway(Asker);
    let hub = app.hub();
    let addr = start(app).await;
    let mut ada = Client::connect(addr, "/ask").await;
    let session = ada.session().await;
    drop(ada);
    // She is away (the session is parked): the request waits in it.
    let mut answers = hub
        .room("jury")
        .request::<String>("still-there", &())
        .timeout(Duration::from_secs(5));
    let answer = tokio::spawn(async move { answers.next().await });
    let (mut ada, resumed) = Client::resume(addr, "/ask", &session).await;
    assert!(
        matches!(resumed, gateway::test::Resume::Resumed { .. }),
        "{resumed:?}"
    );
    let (id, _) = asked(&mut ada, "still-there").await;
    ada.send_json(&json!({"ack": id, "data": "yes"})).await;
    let (_, answer) = answer.await.unwrap().expect("one client was asked");
    assert_eq!(answer, Ok("yes".to_owned()));
}

#[tokio::test]
async fn a_request_to_a_client_that_leaves_for_good_fails_as_closed() {
    let app = App::new().gateway(Asker);
    let hub = app.hub();
    let addr = start(app).await;
    let mut ada = Client::connect(addr, "/ask").await;
    let _ = ada.session().await;
    let mut answers = hub.room("jury").request::<String>("question", &());
    let answer = tokio::spawn(async move { answers.next().await });
    let _ = asked(&mut ada, "question").await;
    // A clean close ends the session for good.
    ada.close().await;
    let (_, answer) = answer.await.unwrap().expect("one client was asked");
    assert_eq!(answer, Err(AnswerError::Closed));
}

#[tokio::test]
async fn a_ping_is_answered_with_a_pong_that_resume_numbering_does_not_count() {
    let addr = start(App::new().gateway(Asker)).await;
    let mut ada = Client::connect(addr, "/ask").await;
    let session = ada.session().await;
    ada.send_json(&json!({"event": "$ping"})).await;
    let pong: Value = ada.recv_json().await;
    assert_eq!(pong["event"], "$pong");
    assert_eq!(ada.session().await.seq, session.seq);
    // And a session resumed after it finds nothing missing and nothing doubled.
    drop(ada);
    let (_, resumed) = Client::resume(addr, "/ask", &session).await;
    assert_eq!(resumed, gateway::test::Resume::Resumed { replay: 0 });
}
