//! What one policy call may use, and the store limiter that enforces memory and tables
//! while recording the peak for reports.

use std::time::Duration;

/// Core instances one call may create: a componentized policy has a handful (the module,
/// the import shims; a WASI policy its adapter too). The pool holds this many per
/// component slot, so calls can never run it dry between them.
pub const CORE_INSTANCES_PER_CALL: u32 = 8;
/// Linear memories one call may create (the policy's; a WASI adapter's).
pub const MEMORIES_PER_CALL: u32 = 2;
/// Tables one call may create.
pub const TABLES_PER_CALL: u32 = 8;

use serde::{Deserialize, Serialize};

/// Per-call limits. Defaults are safe for a till; merchants may be given others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Limits {
    /// Instructions (wasmtime fuel). Shopify Functions allow 11 M.
    pub fuel: u64,
    /// Wall-clock deadline for one call, in milliseconds.
    pub deadline_ms: u64,
    /// Linear memory, in bytes.
    pub memory_bytes: usize,
    /// Elements of any table.
    pub table_elements: usize,
    /// Bytes of text in an answer (descriptions, codes, message).
    pub output_bytes: usize,
    /// Log lines kept per call; more are counted and dropped.
    pub log_lines: usize,
    /// Bytes of one log line kept; the rest is cut.
    pub log_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 10_000_000,
            deadline_ms: 50,
            memory_bytes: 16 << 20,
            table_elements: 10_000,
            output_bytes: 64 << 10,
            log_lines: 64,
            log_line_bytes: 1024,
        }
    }
}

impl Limits {
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.deadline_ms)
    }
}

/// The error a denied `memory.grow` traps with, so the outcome can say "memory limit".
#[derive(Debug, thiserror::Error)]
#[error("the policy asked for {desired} bytes of memory; the limit is {limit}")]
pub struct MemoryLimitExceeded {
    pub desired: usize,
    pub limit: usize,
}

/// The error a denied table growth traps with.
#[derive(Debug, thiserror::Error)]
#[error("the policy asked for a table of {desired} elements; the limit is {limit}")]
pub struct TableLimitExceeded {
    pub desired: usize,
    pub limit: usize,
}

/// Enforces memory and table limits and remembers the largest memory seen.
#[derive(Debug)]
pub struct Limiter {
    memory_limit: usize,
    table_limit: usize,
    pub peak_memory: usize,
}

impl Limiter {
    pub fn new(limits: &Limits) -> Self {
        Limiter {
            memory_limit: limits.memory_bytes,
            table_limit: limits.table_elements,
            peak_memory: 0,
        }
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            // An error (not `Ok(false)`) traps at once: Rust's allocator would abort anyway,
            // and this way the outcome names the limit instead of a bare `unreachable`.
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                desired,
                limit: self.memory_limit,
            }));
        }
        self.peak_memory = self.peak_memory.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_limit {
            return Err(wasmtime::Error::new(TableLimitExceeded {
                desired,
                limit: self.table_limit,
            }));
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        CORE_INSTANCES_PER_CALL as usize
    }

    fn memories(&self) -> usize {
        MEMORIES_PER_CALL as usize
    }

    fn tables(&self) -> usize {
        TABLES_PER_CALL as usize
    }
}
