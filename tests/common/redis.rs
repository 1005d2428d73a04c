//! A real `redis-server` for the backplane tests, on a free port of 127.0.0.1, started and
//! killed by the test. A missing binary fails the test: these tests never pretend to pass.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` process; killed when dropped.
pub(crate) struct RedisServer {
    port: u16,
    process: Option<Child>,
}

impl RedisServer {
    /// Starts a Redis that keeps nothing on disk, and waits until it answers.
    pub(crate) fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port on 127.0.0.1")
            .port();
        let mut server = Self {
            port,
            process: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.process.as_ref().map_or(0, Child::id)
    }

    /// Kills the server at once (SIGKILL): no goodbye to its clients.
    pub(crate) fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().ok();
            process.wait().ok();
        }
    }

    /// Starts the server again on the same port, empty, and waits until it says it is ready.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let mut process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot run `redis-server` ({error}): the `redis` feature's tests need a real \
                     Redis; install it (Debian: `apt-get install -y redis-server`)"
                )
            });
        let mut log = BufReader::new(process.stdout.take().expect("piped stdout"));
        let mut said = String::new();
        let mut line = String::new();
        while !line.contains("Ready to accept connections") {
            line.clear();
            if log.read_line(&mut line).unwrap_or(0) == 0 {
                panic!(
                    "redis-server on port {} stopped before it was ready: {said}",
                    self.port
                );
            }
            said.push_str(&line);
        }
        // Drained for the rest of its life, so its log never fills the pipe and blocks it.
        std::thread::spawn(move || std::io::copy(&mut log, &mut std::io::sink()));
        self.process = Some(process);
    }

    /// Runs one command (inline syntax: `FLUSHALL`, `CLIENT PAUSE 1000`); returns the first
    /// line of the reply.
    pub(crate) fn command(&self, command: &str) -> std::io::Result<String> {
        let mut redis = TcpStream::connect(("127.0.0.1", self.port))?;
        redis.set_read_timeout(Some(Duration::from_secs(1)))?;
        redis.write_all(format!("{command}\r\n").as_bytes())?;
        let mut reply = String::new();
        BufReader::new(redis).read_line(&mut reply)?;
        Ok(reply.trim_end().to_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}
