//! The servers under test: separate processes, pinned to one core, observed through /proc.

use crate::procfs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// One server to compare.
#[derive(Clone, Copy)]
pub(crate) struct Kind {
    pub name: &'static str,
    program: Program,
    read_buffer: Option<usize>,
}

/// What runs a server.
#[derive(Clone, Copy)]
enum Program {
    /// One of this workspace's examples, built in release mode.
    Example(&'static str),
    /// `benches/bun/server.js` on Bun (npm's `@oven/bun-linux-x64`, installed on first use).
    Bun,
    /// This harness as the floor server ([`crate::floor`]).
    Floor,
}

pub(crate) const SERVERS: [Kind; 4] = [
    Kind {
        name: "gateway",
        program: Program::Example("echo"),
        read_buffer: None,
    },
    Kind {
        name: "axum default",
        program: Program::Example("plain_axum"),
        read_buffer: None,
    },
    Kind {
        name: "axum 4 KiB buffer",
        program: Program::Example("plain_axum"),
        read_buffer: Some(4096),
    },
    Kind {
        name: "Bun (uWS)",
        program: Program::Bun,
        read_buffer: None,
    },
];

/// The floor every fan-out is compared with (see [`crate::floor`]).
pub(crate) const FLOOR: Kind = Kind {
    name: "floor",
    program: Program::Floor,
    read_buffer: None,
};

const BUN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/bun");

fn bun() -> String {
    format!("{BUN_DIR}/node_modules/@oven/bun-linux-x64/bin/bun")
}

pub(crate) struct Server {
    child: Child,
    pub addr: SocketAddr,
}

/// The core the servers (and Redis) run on; the generator has the other.
pub(crate) const SERVER_CORE: usize = 0;

impl Server {
    /// Starts `kind` on a free port, on [`SERVER_CORE`] when `taskset` exists, with the
    /// open-file limit raised to the hard limit.
    pub(crate) fn start(kind: Kind) -> Server {
        Self::start_with_env(kind, &[])
    }

    /// As [`Server::start`], with extra environment variables (`REDIS_URL`).
    pub(crate) fn start_with_env(kind: Kind, env: &[(&str, &str)]) -> Server {
        let binary = match kind.program {
            Program::Example(example) => format!(
                "{}/target/release/examples/{example}",
                env!("CARGO_MANIFEST_DIR")
            ),
            Program::Bun => format!("{} {BUN_DIR}/server.js", bun()),
            Program::Floor => {
                let harness = std::env::current_exe().expect("the harness's own path");
                format!("{}", harness.display())
            }
        };
        let pin = if has_taskset() {
            format!("taskset -c {SERVER_CORE} ")
        } else {
            String::new()
        };
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(format!("ulimit -n $(ulimit -Hn); exec {pin}{binary}"))
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(bytes) = kind.read_buffer {
            command.env("READ_BUFFER", bytes.to_string());
        }
        if let Program::Floor = kind.program {
            command.env(crate::floor::ENV, "1");
        }
        command.envs(env.iter().copied());
        let mut child = command.spawn().expect("start the server");
        let mut line = String::new();
        let mut output = BufReader::new(child.stdout.take().unwrap());
        output.read_line(&mut line).unwrap();
        // Drained for the rest of its life (the routes table follows the first line), so the
        // server never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut output, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("listening on ws://")
            .unwrap_or_else(|| panic!("unexpected first line from {}: {line:?}", kind.name))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    /// CPU time (user + system) the server has used.
    pub(crate) fn cpu(&self) -> Duration {
        process_cpu(self.child.id())
    }

    /// Resident memory of the server, in bytes.
    pub(crate) fn rss(&self) -> usize {
        procfs::rss_bytes(&format!("/proc/{}/status", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// CPU time (user + system) of a process.
pub(crate) fn process_cpu(pid: u32) -> Duration {
    procfs::cpu_time(&format!("/proc/{pid}/stat"))
}

pub(crate) fn has_taskset() -> bool {
    Command::new("taskset")
        .arg("-V")
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Pins this process (all its threads) to `core`.
pub(crate) fn pin_self(core: usize) {
    pin(std::process::id(), core);
}

/// Pins a process (all its threads) to `core`, when `taskset` exists.
pub(crate) fn pin(pid: u32, core: usize) {
    if has_taskset() {
        Command::new("taskset")
            .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
            .stdout(Stdio::null())
            .status()
            .ok();
    }
}

/// Builds the server examples in release mode (the harness runs them as separate processes),
/// the gateway one with the Redis backplane for the cluster scenario.
pub(crate) fn build_servers() {
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--features",
            "redis",
            "--example",
            "echo",
            "--example",
            "plain_axum",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo");
    assert!(status.success(), "building the server examples failed");
    if !std::path::Path::new(&bun()).exists() {
        let status = Command::new("npm")
            .args(["install", "--no-package-lock", "--no-audit", "--no-fund"])
            .current_dir(BUN_DIR)
            .status()
            .expect("run npm (Node's package manager) to install Bun for the harness");
        assert!(status.success(), "installing Bun (benches/bun) failed");
    }
}
