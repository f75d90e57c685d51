//! Per-op profiling: calls, wall time and FLOPs, printed as a table sorted by time.
//!
//! Off by default and then nearly free (one relaxed atomic load per op). Turned on by
//! `EARMARK_PROFILE=1` in the environment or by [`enable`] (the CLI's `--profile`).
//!
//! ```
//! let _t = earmark::profile::scope("matmul", 2 * 64 * 128 * 384);
//! // ... the op's work; the guard records on drop ...
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

/// 0 = not yet read from the environment, 1 = off, 2 = on.
static STATE: AtomicU8 = AtomicU8::new(0);
static TABLE: Mutex<Option<HashMap<&'static str, Entry>>> = Mutex::new(None);

#[derive(Clone, Copy, Default, Debug)]
pub struct Entry {
    pub calls: u64,
    pub time: Duration,
    pub flops: u64,
}

/// Whether profiling is on (reads `EARMARK_PROFILE` once).
#[inline]
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        2 => true,
        1 => false,
        _ => {
            let on = std::env::var("EARMARK_PROFILE").is_ok_and(|v| !v.is_empty() && v != "0");
            STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
    }
}

/// Turns profiling on or off for the rest of the process.
pub fn enable(on: bool) {
    STATE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
}

/// Starts timing one call of `op` that performs `flops` floating-point operations;
/// the time is recorded when the guard drops. Free when profiling is off.
#[inline]
pub fn scope(op: &'static str, flops: u64) -> Scope {
    Scope {
        start: enabled().then(Instant::now),
        op,
        flops,
    }
}

/// Guard returned by [`scope`].
#[must_use = "the time is recorded when the guard drops"]
pub struct Scope {
    start: Option<Instant>,
    op: &'static str,
    flops: u64,
}

impl Drop for Scope {
    fn drop(&mut self) {
        if let Some(start) = self.start {
            record(self.op, start.elapsed(), self.flops);
        }
    }
}

/// Adds one call of `op` to the table.
pub fn record(op: &'static str, time: Duration, flops: u64) {
    let mut table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let e = table
        .get_or_insert_with(HashMap::new)
        .entry(op)
        .or_default();
    e.calls += 1;
    e.time += time;
    e.flops += flops;
}

/// The recorded entries, sorted by total time (largest first).
pub fn snapshot() -> Vec<(&'static str, Entry)> {
    let table = TABLE.lock().unwrap_or_else(|e| e.into_inner());
    let mut rows: Vec<_> = table
        .iter()
        .flat_map(|t| t.iter().map(|(k, v)| (*k, *v)))
        .collect();
    rows.sort_by(|a, b| b.1.time.cmp(&a.1.time).then(a.0.cmp(b.0)));
    rows
}

/// Clears the table.
pub fn reset() {
    *TABLE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The table as text: op, calls, ms, % of total, GFLOP/s (blank where no FLOPs).
pub fn report() -> String {
    use std::fmt::Write;
    let rows = snapshot();
    let total: f64 = rows.iter().map(|(_, e)| e.time.as_secs_f64()).sum();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:>9} {:>11} {:>7} {:>9}",
        "op", "calls", "ms", "%", "GFLOP/s"
    );
    for (op, e) in &rows {
        let s = e.time.as_secs_f64();
        let pct = if total > 0.0 { 100.0 * s / total } else { 0.0 };
        let gflops = if e.flops > 0 && s > 0.0 {
            format!("{:.1}", e.flops as f64 / s / 1e9)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{op:<28} {:>9} {:>11.2} {pct:>7.1} {gflops:>9}",
            e.calls,
            s * 1e3
        );
    }
    let _ = writeln!(
        out,
        "{:<28} {:>9} {:>11.2} {:>7.1}",
        "total",
        "",
        total * 1e3,
        100.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_reports_sorted_by_time() {
        record("test.slow", Duration::from_millis(30), 3_000_000_000);
        record("test.fast", Duration::from_millis(10), 0);
        record("test.slow", Duration::from_millis(30), 3_000_000_000);
        let rows = snapshot();
        let slow = rows.iter().position(|r| r.0 == "test.slow").unwrap();
        let fast = rows.iter().position(|r| r.0 == "test.fast").unwrap();
        assert!(slow < fast);
        assert_eq!(rows[slow].1.calls, 2);
        let text = report();
        // 6 GFLOP in 60 ms = 100 GFLOP/s.
        assert!(
            text.lines()
                .any(|l| l.starts_with("test.slow") && l.trim_end().ends_with("100.0")),
            "{text}"
        );
    }
}
