//! A controller that lets a test drive the hub from a client, one command per message.

use gateway::hub::Hub;
use gateway::prelude::*;

/// Commands on `/hub/a` and `/hub/b`, each answered with a text:
/// `id`, `join:R`, `leave:R`, `rooms`, `presence:TEXT`, `room:R:text` (to R but the sender),
/// `all:text`, `path:/p:text`, `to:ID:text`, `count` (clients connected), `members:R` (ids in R,
/// sorted), `who:R` (presence texts in R, sorted).
pub(crate) struct Commands;

impl Commands {
    fn run(command: &str, conn: &Connection, hub: &Hub) -> String {
        let (verb, rest) = command.split_once(':').unwrap_or((command, ""));
        match verb {
            "id" => conn.id().to_string(),
            "join" => {
                conn.join(rest);
                "joined".to_owned()
            }
            "leave" => {
                conn.leave(rest);
                "left".to_owned()
            }
            "rooms" => conn.rooms().join(","),
            "presence" => {
                conn.set_presence(rest);
                "set".to_owned()
            }
            "room" => {
                let (room, text) = rest.split_once(':').unwrap();
                format!("sent to {}", hub.room(room).except(conn.id()).send(text))
            }
            "all" => format!("sent to {}", hub.broadcast(rest)),
            "path" => {
                let (path, text) = rest.split_once(':').unwrap();
                format!("sent to {}", hub.path(path).send(text))
            }
            "to" => {
                let (id, text) = rest.split_once(':').unwrap();
                let target = hub
                    .all()
                    .members()
                    .into_iter()
                    .find(|member| member.to_string() == id);
                match target {
                    Some(target) => format!("{:?}", hub.send_to(target, text)),
                    None => "no such client".to_owned(),
                }
            }
            "count" => hub.connection_count().to_string(),
            "members" => {
                let mut ids: Vec<String> = hub
                    .room(rest)
                    .members()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                ids.sort();
                ids.join(",")
            }
            "who" => {
                let mut texts: Vec<String> = hub
                    .room(rest)
                    .presence()
                    .into_iter()
                    .map(|(_, text)| text.unwrap_or_default())
                    .collect();
                texts.sort();
                texts.join(",")
            }
            other => format!("unknown {other}"),
        }
    }
}

#[controller("hub")]
impl Commands {
    #[websocket("a")]
    async fn a(&self, #[body] command: String, conn: Connection, hub: Hub) -> String {
        Commands::run(&command, &conn, &hub)
    }

    #[websocket("b")]
    async fn b(&self, #[body] command: String, conn: Connection, hub: Hub) -> String {
        Commands::run(&command, &conn, &hub)
    }
}
