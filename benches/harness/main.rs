//! The benchmark harness: the gateway echo server beside plain axum (with its default 128 KiB read
//! buffer, and tuned with 4 KiB) and Bun (`Bun.serve`, uWebSockets underneath), measured
//! alternately in one run with the same generator.
//!
//! `cargo bench --bench harness` (all scenarios), or name some: `-- echo fanout idle handshakes
//! resume` (`resume`: the gateway with and without resumable sessions).
//! `-- cluster` (run only when named: it needs `redis-server`) compares one gateway instance with
//! two sharing a Redis.
//! `HARNESS_ROUNDS=3` sets how many rounds (the table shows medians), `HARNESS_IDLE=19000` the
//! largest idle-connection count.
//!
//! Each server runs as its own process pinned to core 0 (when `taskset` exists); this generator
//! runs on core 1 on a single-threaded runtime. Server CPU comes from /proc/PID/stat.

mod floor;
#[path = "../../tests/common/procfs.rs"]
mod procfs;
#[allow(dead_code)]
#[path = "../../tests/common/redis.rs"]
mod redis_server;
mod resume;
mod scenarios;
mod server;
mod stats;

use scenarios::{FanoutResult, Pace, BROADCAST};
use server::{Server, SERVERS};
use stats::{median, micros};
use std::time::Duration;

const WINDOW: Duration = Duration::from_secs(2);

/// What a fan-out reports: name, whether lower is better, and the value.
type Metric<T> = (&'static str, bool, fn(&T) -> f64);

const FANOUT_METRICS: [Metric<FanoutResult>; 4] = [
    ("all delivered p50 ms", true, |r| r.p50.as_secs_f64() * 1e3),
    ("all delivered p99 ms", true, |r| r.p99.as_secs_f64() * 1e3),
    ("deliveries/s", false, |r| r.deliveries_per_second),
    ("server CPU µs/delivery", true, cpu_per_delivery),
];

/// What a back-to-back fan-out reports (its one latency is the whole burst's).
const BURST_METRICS: [Metric<FanoutResult>; 3] = [
    ("whole burst delivered ms", true, |r| {
        r.p50.as_secs_f64() * 1e3
    }),
    ("deliveries/s", false, |r| r.deliveries_per_second),
    ("server CPU µs/delivery", true, cpu_per_delivery),
];

fn cpu_per_delivery(result: &FanoutResult) -> f64 {
    micros(result.server_cpu_per_delivery)
}

/// One printed row: a metric's median per server, and whether lower is better.
struct Row {
    metric: String,
    values: Vec<f64>,
    lower_is_better: bool,
}

fn main() {
    if std::env::var_os(floor::ENV).is_some() {
        return floor::serve();
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    let runs = |name: &str| wanted.is_empty() || wanted.iter().any(|want| want == name);
    let rounds: usize = env_number("HARNESS_ROUNDS", 3);
    let idle_max: usize = env_number("HARNESS_IDLE", 19_000);

    server::build_servers();
    server::pin_self(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "gateway vs plain axum and Bun: {rounds} rounds, medians; servers on core 0{}, generator on core 1",
        if server::has_taskset() {
            ""
        } else {
            " (no taskset: not pinned)"
        }
    );
    let mut rows: Vec<Row> = Vec::new();

    if runs("echo") {
        for (label, connections, size, in_flight) in [
            ("1 conn ping-pong 32 B", 1, 32, 1),
            ("64 conns x 32 B", 64, 32, 1),
            ("64 conns x 4 KiB", 64, 4096, 1),
            ("64 conns x 32 B, 8 in flight", 64, 32, 8),
        ] {
            let results = measure(rounds, |server| {
                runtime.block_on(scenarios::echo(
                    server,
                    connections,
                    size,
                    in_flight,
                    WINDOW,
                ))
            });
            let metric =
                |name: &str, lower: bool, get: &dyn Fn(&scenarios::EchoResult) -> f64| Row {
                    metric: format!("echo {label}: {name}"),
                    values: results
                        .iter()
                        .map(|runs| median(runs.iter().map(get).collect()))
                        .collect(),
                    lower_is_better: lower,
                };
            rows.push(metric("round trips/s", false, &|r| {
                r.round_trips_per_second
            }));
            rows.push(metric("p50 µs", true, &|r| micros(r.p50)));
            rows.push(metric("p99 µs", true, &|r| micros(r.p99)));
            rows.push(metric("server CPU µs/round trip", true, &|r| {
                micros(r.server_cpu_per_round_trip)
            }));
            rows.push(metric("generator load (1.0 = a full core)", true, &|r| {
                r.generator_load
            }));
            print_rows(&rows[rows.len() - 5..]);
        }
    }

    if runs("fanout") {
        for (label, subscribers, messages, pace) in [
            ("fan-out to 1000", 1_000, 50, Pace::EachAfterTheLast),
            ("fan-out to 10000", 10_000, 20, Pace::EachAfterTheLast),
            (
                "fan-out 200 back to back to 10000",
                10_000,
                200,
                Pace::BackToBack,
            ),
        ] {
            let scenario = |server: &Server| {
                runtime.block_on(scenarios::fanout_paced(
                    &[server],
                    BROADCAST,
                    subscribers,
                    messages,
                    pace,
                ))
            };
            let results = measure(rounds, scenario);
            let floor: Vec<_> = (0..rounds)
                .map(|_| scenario(&Server::start(server::FLOOR)))
                .collect();
            let metrics: &[Metric<FanoutResult>] = match pace {
                Pace::EachAfterTheLast => &FANOUT_METRICS,
                Pace::BackToBack => &BURST_METRICS,
            };
            for (name, lower_is_better, get) in metrics {
                rows.push(Row {
                    metric: format!("{label}: {name}"),
                    values: results
                        .iter()
                        .map(|runs| median(runs.iter().map(get).collect()))
                        .collect(),
                    lower_is_better: *lower_is_better,
                });
            }
            let floor_cpu = median(floor.iter().map(cpu_per_delivery).collect());
            println!(
                "\nfloor, {label} (one write per delivery and nothing else): server CPU µs/delivery \
                 {floor_cpu:.2}, all delivered p50 {:.1} ms, deliveries/s {:.0}",
                median(floor.iter().map(|r| r.p50.as_secs_f64() * 1e3).collect()),
                median(floor.iter().map(|r| r.deliveries_per_second).collect()),
            );
            rows.push(Row {
                metric: format!("{label}: server CPU per delivery / floor"),
                values: results
                    .iter()
                    .map(|runs| median(runs.iter().map(cpu_per_delivery).collect()) / floor_cpu)
                    .collect(),
                lower_is_better: true,
            });
            print_rows(&rows[rows.len() - metrics.len() - 1..]);
        }
    }

    if runs("idle") {
        for count in [10_000, idle_max] {
            let results = measure(rounds, |server| {
                runtime.block_on(scenarios::idle(server, count))
            });
            rows.push(Row {
                metric: format!(
                    "idle {count} (reached {}): KiB RSS per connection",
                    results[0][0].0
                ),
                values: results
                    .iter()
                    .map(|runs| median(runs.iter().map(|(_, bytes)| bytes / 1024.0).collect()))
                    .collect(),
                lower_is_better: true,
            });
            print_rows(&rows[rows.len() - 1..]);
        }
    }

    if runs("handshakes") {
        let mut round = 0u8;
        let results = measure(rounds, |server| {
            round += 1;
            runtime.block_on(scenarios::handshakes(server, 16, WINDOW, round))
        });
        rows.push(Row {
            metric: "handshakes/s (16 in parallel)".to_owned(),
            values: results.iter().map(|runs| median(runs.clone())).collect(),
            lower_is_better: false,
        });
        print_rows(&rows[rows.len() - 1..]);
    }

    if runs("resume") {
        resume::resume(&runtime, rounds);
    }

    if !rows.is_empty() {
        println!("\nsummary");
        print_rows(&rows);
    }

    // Only when named: it needs redis-server.
    if wanted.iter().any(|want| want == "cluster") {
        cluster(&runtime, rounds);
    }
}

/// Fan-out to 10,000 subscribers: one gateway instance, then two instances sharing a Redis
/// (publisher and 5,000 subscribers on A, 5,000 on B). Servers and Redis share core 0.
fn cluster(runtime: &tokio::runtime::Runtime, rounds: usize) {
    let (subscribers, messages) = (10_000, 20);
    let redis = redis_server::RedisServer::start();
    server::pin(redis.pid(), server::SERVER_CORE);
    let url = redis.url();
    let gateway = SERVERS[0];
    let mut single = Vec::new();
    let mut pair = Vec::new();
    for _ in 0..rounds {
        let one = Server::start(gateway);
        single.push(runtime.block_on(scenarios::fanout(&[&one], subscribers, messages)));
        drop(one);
        let a = Server::start_with_env(gateway, &[("REDIS_URL", &url)]);
        let b = Server::start_with_env(gateway, &[("REDIS_URL", &url)]);
        pair.push(runtime.block_on(scenarios::fanout(&[&a, &b], subscribers, messages)));
    }
    println!(
        "\n{:<58} {:>12} {:>12} {:>9}",
        "fan-out to 10000, publisher on A", "1 instance", "A+B, Redis", "A+B/1"
    );
    for (metric, _, get) in FANOUT_METRICS {
        let one = median(single.iter().map(get).collect());
        let two = median(pair.iter().map(get).collect());
        println!("{metric:<58} {one:>12.2} {two:>12.2} {:>9.2}", two / one);
    }
    resume::across(runtime, rounds, &url, redis.pid());
}

/// Runs `scenario` against each server in turn, `rounds` times: results[server][round].
fn measure<T>(rounds: usize, mut scenario: impl FnMut(&Server) -> T) -> Vec<Vec<T>> {
    let mut results: Vec<Vec<T>> = SERVERS.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds {
        for (index, kind) in SERVERS.iter().enumerate() {
            let server = Server::start(*kind);
            results[index].push(scenario(&server));
        }
    }
    results
}

fn print_rows(rows: &[Row]) {
    println!(
        "\n{:<58} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "metric",
        SERVERS[0].name,
        SERVERS[1].name,
        "axum 4 KiB",
        SERVERS[3].name,
        "gw/axum",
        "gw/4KiB",
        "gw/Bun"
    );
    for row in rows {
        let [gateway, default, tuned, bun] =
            [row.values[0], row.values[1], row.values[2], row.values[3]];
        let better = if row.lower_is_better {
            "(lower is better)"
        } else {
            ""
        };
        println!(
            "{:<58} {:>12.2} {:>12.2} {:>12.2} {:>12.2} {:>9.2} {:>9.2} {:>9.2} {better}",
            row.metric,
            gateway,
            default,
            tuned,
            bun,
            gateway / default,
            gateway / tuned,
            gateway / bun
        );
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
