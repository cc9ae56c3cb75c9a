//! What a store holds for one call: the policy's log, the limiter, and — only for
//! policies built against WASI — a deterministic WASI context (stdio captured into the
//! log, clocks frozen at the order's time, randomness seeded from the order id, no
//! environment, arguments, files or network).

use std::time::Duration;

use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::{ClosedInputStream, MemoryOutputPipe};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::bindings::Level;
use super::limits::{Limiter, Limits};

/// One line a policy logged (or printed, when it uses WASI stdio).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl From<Level> for LogLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        }
    }
}

/// The capped per-call log.
#[derive(Debug, Default)]
pub struct Log {
    pub lines: Vec<LogLine>,
    pub dropped: u32,
    max_lines: usize,
    max_line_bytes: usize,
}

impl Log {
    pub fn new(limits: &Limits) -> Self {
        Log {
            lines: Vec::new(),
            dropped: 0,
            max_lines: limits.log_lines,
            max_line_bytes: limits.log_line_bytes,
        }
    }

    /// Whether further lines are only counted.
    pub fn is_full(&self) -> bool {
        self.lines.len() >= self.max_lines
    }

    pub fn push(&mut self, level: LogLevel, mut message: String) {
        if self.lines.len() >= self.max_lines {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        truncate_at_char_boundary(&mut message, self.max_line_bytes);
        self.lines.push(LogLine { level, message });
    }
}

pub(crate) fn truncate_at_char_boundary(text: &mut String, max: usize) {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
}

/// The host state shared by both kinds of store.
#[derive(Debug)]
pub struct HostState {
    pub log: Log,
    pub limiter: Limiter,
    pub panic: Option<String>,
}

impl HostState {
    pub fn new(limits: &Limits) -> Self {
        HostState {
            log: Log::new(limits),
            limiter: Limiter::new(limits),
            panic: None,
        }
    }
}

/// A store's data: the host state plus `W`, which is `()` for policies without WASI
/// imports and [`WasiState`] for the others.
pub struct CallState<W> {
    pub host: HostState,
    pub wasi: W,
}

// The host imports (`log`, `report-panic`) are defined in `crate::lift`, which reads
// their messages without copying more than the log's caps.

/// Deterministic WASI for one call.
pub struct WasiState {
    ctx: WasiCtx,
    table: ResourceTable,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

/// Bytes of stdout/stderr kept per call (the rest fails the write, as a full pipe would).
const STDIO_CAPACITY: usize = 16 << 10;

impl WasiState {
    /// `now_ms` is the order's time (epoch ms); `seed` derives from the order id, so the
    /// same order always sees the same clock and the same random numbers.
    pub fn new(now_ms: i64, seed: u64) -> Self {
        let stdout = MemoryOutputPipe::new(STDIO_CAPACITY);
        let stderr = MemoryOutputPipe::new(STDIO_CAPACITY);
        let ctx = WasiCtx::builder()
            .stdin(ClosedInputStream)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(FrozenWallClock(now_ms))
            .monotonic_clock(FrozenMonotonicClock)
            .secure_random(rand::rngs::StdRng::seed_from_u64(seed))
            .insecure_random(rand::rngs::StdRng::seed_from_u64(
                seed ^ 0x9e37_79b9_7f4a_7c15,
            ))
            .insecure_random_seed(u128::from(seed))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        WasiState {
            ctx,
            table: ResourceTable::new(),
            stdout,
            stderr,
        }
    }

    /// Moves what the policy printed into its log, a line each.
    pub fn drain_stdio_into(&self, log: &mut Log) {
        for (pipe, level) in [
            (&self.stdout, LogLevel::Info),
            (&self.stderr, LogLevel::Warn),
        ] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes).lines() {
                log.push(level, line.to_owned());
            }
        }
    }
}

impl WasiView for CallState<WasiState> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi.ctx,
            table: &mut self.wasi.table,
        }
    }
}

struct FrozenWallClock(i64);

impl HostWallClock for FrozenWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0).unwrap_or(0))
    }
}

struct FrozenMonotonicClock;

impl HostMonotonicClock for FrozenMonotonicClock {
    fn resolution(&self) -> u64 {
        1
    }

    fn now(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_is_capped_in_lines_and_bytes() {
        let limits = Limits {
            log_lines: 2,
            log_line_bytes: 4,
            ..Limits::default()
        };
        let mut log = Log::new(&limits);
        log.push(LogLevel::Info, "abcdef".into());
        log.push(LogLevel::Info, "ok".into());
        log.push(LogLevel::Info, "dropped".into());
        assert_eq!(log.lines[0].message, "abcd…");
        assert_eq!(log.lines.len(), 2);
        assert_eq!(log.dropped, 1);
    }

    #[test]
    fn truncation_respects_utf8() {
        let mut text = "ééé".to_owned();
        truncate_at_char_boundary(&mut text, 3);
        assert_eq!(text, "é…");
    }
}
