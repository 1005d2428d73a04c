//! What the tests share besides `gateway::test`: a raw client for what well-behaved clients never
//! do, and an echo controller.
#![allow(dead_code)] // each test binary uses a different subset

pub mod chat_wire;
pub mod commands;
pub mod procfs;
pub mod raw;
pub mod redis;

/// `/echo` answers every text message with itself.
pub struct Echo;

#[gateway::controller("")]
impl Echo {
    #[websocket("echo")]
    async fn echo(&self, #[body] message: String) -> String {
        message
    }
}
