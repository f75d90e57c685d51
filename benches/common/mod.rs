//! Helpers shared by the benches (`mod common;` in each).

/// CPU time used so far by this process, all threads including exited ones (Linux:
/// utime + stime from /proc/self/stat, in clock ticks of 1/100 s, the kernel's USER_HZ on
/// x86-64). `None` where unavailable.
pub fn process_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
