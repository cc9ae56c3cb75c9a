//! Logging from a policy: each line goes to this call's log (shown by `rabat run`, in
//! dry-runs and in the evaluation log). Natively (in a policy's tests) lines go to stderr.
//!
//! Use the macros: [`info!`](crate::info), [`debug!`](crate::debug), [`warn!`](crate::warn),
//! [`error!`](crate::error), or [`log!`](macro@crate::log) with a [`Level`].

use core::fmt;

/// How important a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detail for the policy's author.
    Debug,
    /// What the policy decided and why.
    Info,
    /// Something the merchant should look at (e.g. a config value that was ignored).
    Warn,
    /// Something went wrong.
    Error,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// Writes `message` to the call's log at `level`. The host caps how many lines a call may
/// write; lines past the cap are dropped and counted.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::__bindings::rabat::rules::host::{self, Level as L};
        let level = match level {
            Level::Debug => L::Debug,
            Level::Info => L::Info,
            Level::Warn => L::Warn,
            Level::Error => L::Error,
        };
        host::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level}] {message}");
}

/// Writes a formatted line to the call's log at a [`Level`]:
/// `log!(Level::Warn, "unknown tier {tier}")`.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        $crate::logging::write($level, &::std::format!($($arg)+))
    };
}

/// Writes a formatted line at [`Level::Debug`]: `debug!("{} lines", n)`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log!($crate::logging::Level::Debug, $($arg)+) };
}

/// Writes a formatted line at [`Level::Info`]: `info!("gold card: 10% off")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log!($crate::logging::Level::Info, $($arg)+) };
}

/// Writes a formatted line at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log!($crate::logging::Level::Warn, $($arg)+) };
}

/// Writes a formatted line at [`Level::Error`].
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log!($crate::logging::Level::Error, $($arg)+) };
}
