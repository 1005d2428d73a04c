//! What Linux's `/proc` says about a process or a thread: resident memory and CPU time. Shared
//! by the tests and the benchmarks (which include this file by path).

use std::time::Duration;

/// Resident memory (`VmRSS`) in bytes, from a status file: `/proc/self/status`,
/// `/proc/PID/status`.
pub(crate) fn rss_bytes(status_file: &str) -> usize {
    let status = std::fs::read_to_string(status_file).expect("Linux /proc");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// CPU time (user + system) from a stat file: `/proc/PID/stat`, `/proc/self/task/TID/stat`.
pub(crate) fn cpu_time(stat_file: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_file).expect("Linux /proc");
    // Fields after the command name (which may contain spaces) start at the state (field 3).
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}
