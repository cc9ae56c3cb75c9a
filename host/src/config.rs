//! Settings, read once at start: flags win over the environment, which wins over the
//! optional TOML file, which wins over the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::bifit::BifitSettings;
use crate::policy::{Limits, ModuleLimits};
use crate::secrets::SecretsKey;

/// The TOML file's shape. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSettings {
    pub bind: Option<SocketAddr>,
    pub database_url: Option<String>,
    /// PostgreSQL: keep rabat's tables in this schema (created if absent).
    pub database_schema: Option<String>,
    /// SQLite: the till's card read on the request's thread (default true; false only to
    /// measure the difference).
    pub sqlite_local_reads: Option<bool>,
    pub operator_token: Option<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: Option<usize>,
    /// Largest policy module accepted at upload, in bytes.
    pub max_module_bytes: Option<usize>,
    /// The evaluation log's row cap per merchant: a safety bound whatever the age.
    pub evaluation_log_retention: Option<u32>,
    /// Days a merchant's evaluations are kept unless it set its own retention.
    pub evaluation_log_retention_days: Option<u32>,
    /// The longest retention in days a merchant may set (its setting is capped to it).
    pub evaluation_log_max_retention_days: Option<u32>,
    /// Bytes the evaluation log's queue may hold before records are dropped (counted).
    pub evaluation_log_max_bytes: Option<usize>,
    /// Default per-call policy limits.
    pub policy_limits: Option<Limits>,
    /// 64 hex digits: the key that seals POS connector tokens at rest.
    pub secrets_key: Option<String>,
    /// The BIFIT Kassa connector's timeouts, retries and follower (`[bifit]`).
    pub bifit: Option<BifitSettings>,
    /// Compiled policies kept in memory; the least recently used beyond this are
    /// dropped and loaded again (from the compiled cache) when next needed.
    pub max_loaded_policies: Option<usize>,
    /// Keep compiled policies in the database so restarts and other replicas load
    /// instead of compiling.
    pub compiled_cache: Option<bool>,
    /// Policy calls one merchant may run at once (0: no bound).
    pub merchant_concurrency: Option<usize>,
    /// How long a merchant's call waits for a free slot before the fail-safe answer.
    pub merchant_queue_ms: Option<u64>,
    /// How often a cached policy is checked against the database when no change
    /// notification arrives.
    pub policy_revalidate_ms: Option<u64>,
    /// Seconds points offered for an open order stay held (paying with points).
    pub hold_ttl_secs: Option<u64>,
    /// How often each replica's points task vests and expires lots, in milliseconds.
    pub points_every_ms: Option<u64>,
    /// A file holding the operator token (instead of `operator-token`).
    pub operator_token_file: Option<PathBuf>,
    /// A file holding the secrets key (instead of `secrets-key`).
    pub secrets_key_file: Option<PathBuf>,
    /// Bearer token for `GET /metrics` (the operator token is accepted too).
    pub metrics_token: Option<String>,
    /// Milliseconds a client has to send a request's headers (and, on a kept-alive
    /// connection, the next request's).
    pub header_timeout_ms: Option<u64>,
    /// Milliseconds a request body may stall between two reads before 408.
    pub body_timeout_ms: Option<u64>,
    /// Connections served at once; more wait in the listen queue.
    pub max_connections: Option<usize>,
    /// Milliseconds SIGTERM waits for in-flight requests before closing them.
    pub shutdown_grace_ms: Option<u64>,
    /// Policy uploads compiled at once on this server.
    pub max_concurrent_compiles: Option<usize>,
    /// Milliseconds an upload waits for a compile slot before 503.
    pub compile_queue_ms: Option<u64>,
    /// Policy versions one merchant may store.
    pub max_policy_versions: Option<u32>,
    /// Bytes of policy modules one merchant may store, all versions together.
    pub max_policy_bytes: Option<u64>,
    /// What an upload may ask the compiler for (`[module-limits]`).
    pub module_limits: Option<ModuleLimits>,
}

impl FileSettings {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the config file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("the config file {} is invalid", path.display()))
    }
}

/// The settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database_url: String,
    pub database_schema: Option<String>,
    /// SQLite: the till's card read on the request's thread (`local_read` in the store).
    pub sqlite_local_reads: bool,
    pub operator_token: Option<String>,
    pub max_body_bytes: usize,
    pub max_module_bytes: usize,
    /// The evaluation log's row cap per merchant (a safety bound; age is the retention).
    pub evaluation_log_retention: u32,
    /// Days a merchant's evaluations are kept unless it set its own retention.
    pub evaluation_log_retention_days: u32,
    /// The longest retention in days a merchant's own setting gets.
    pub evaluation_log_max_retention_days: u32,
    /// Bytes of evaluation-log records queued but not yet written before more are dropped.
    pub evaluation_log_max_bytes: usize,
    pub policy_limits: Limits,
    /// Seals POS connector tokens at rest; without it no connector can be set up.
    pub secrets_key: Option<SecretsKey>,
    pub bifit: BifitSettings,
    pub max_loaded_policies: usize,
    pub compiled_cache: bool,
    pub merchant_concurrency: usize,
    pub merchant_queue: Duration,
    /// A till's policy call first runs inline on the tokio worker with its deadline cut to
    /// this; past it, it runs again on the blocking pool with the full limits (see
    /// `service::runner`). Zero: every call on the blocking pool.
    pub inline_deadline: Duration,
    pub policy_revalidate: Duration,
    /// How long points offered for an open order stay held before others may be offered
    /// them (default 24 h).
    pub hold_ttl: Duration,
    /// How often the points task vests and expires lots on this replica (default 60 s).
    pub points_every: Duration,
    /// Bearer token for `GET /metrics`; the operator token is accepted too.
    pub metrics_token: Option<String>,
    pub http: HttpLimits,
    pub uploads: UploadLimits,
}

/// How long the HTTP server waits for a client, and how many it serves at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// A request's headers must arrive within this (also the idle keep-alive limit: the
    /// wait for the next request's headers).
    pub header_timeout: Duration,
    /// A request body that sends nothing for this long is answered 408.
    pub body_timeout: Duration,
    /// Connections served at once; more wait in the kernel's listen queue.
    pub max_connections: usize,
    /// After SIGTERM, in-flight requests get this long before their connections close.
    pub shutdown_grace: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Bounds on policy uploads: compiling is the costliest thing a merchant can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    /// Uploads compiled at once on this server.
    pub max_concurrent_compiles: usize,
    /// How long an upload waits for a compile slot before 503.
    pub compile_queue: Duration,
    /// Policy versions one merchant may store.
    pub max_policy_versions: u32,
    /// Bytes of modules one merchant may store, all versions together.
    pub max_policy_bytes: u64,
    /// What a module may ask the compiler for, checked before compiling.
    pub module_limits: ModuleLimits,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_concurrent_compiles: 1,
            compile_queue: Duration::from_secs(30),
            max_policy_versions: 200,
            max_policy_bytes: 256 << 20,
            module_limits: ModuleLimits::default(),
        }
    }
}

/// The shortest operator token accepted: a short one can be guessed.
pub const MIN_OPERATOR_TOKEN_CHARS: usize = 16;

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://rabat.db";

impl Settings {
    /// The evaluation log's retention as the store applies it.
    pub fn evaluation_retention(&self) -> crate::store::EvaluationRetention {
        crate::store::EvaluationRetention {
            default_days: self.evaluation_log_retention_days,
            max_days: self.evaluation_log_max_retention_days,
            max_rows: u64::from(self.evaluation_log_retention),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.into(),
            database_schema: None,
            sqlite_local_reads: true,
            operator_token: None,
            max_body_bytes: 256 << 10,
            max_module_bytes: 4 << 20,
            evaluation_log_retention: 200_000,
            evaluation_log_retention_days: 35,
            evaluation_log_max_retention_days: 90,
            evaluation_log_max_bytes: crate::evaluation_log::DEFAULT_MAX_BYTES,
            policy_limits: Limits::default(),
            secrets_key: None,
            bifit: BifitSettings::default(),
            max_loaded_policies: crate::active::MAX_LOADED,
            compiled_cache: true,
            merchant_concurrency: default_merchant_concurrency(),
            merchant_queue: Duration::from_millis(25),
            inline_deadline: crate::service::runner::INLINE_DEADLINE,
            policy_revalidate: crate::active::REVALIDATE_AFTER,
            hold_ttl: crate::service::DEFAULT_HOLD_TTL,
            points_every: crate::service::points::AGING_EVERY,
            metrics_token: None,
            http: HttpLimits::default(),
            uploads: UploadLimits::default(),
        }
    }
}

/// As many calls per merchant as there are cores: plenty for real policies (a call takes
/// tens of microseconds), while one merchant whose calls all run to their deadline can
/// occupy at most that many threads.
fn default_merchant_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .max(2)
}

/// What the command line and environment gave (clap merges those two).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct SettingsArgs {
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "RABAT_BIND")]
    pub bind: Option<SocketAddr>,
    /// `sqlite://FILE` (the default is sqlite://rabat.db in the working directory) or
    /// `postgres://…`
    #[arg(long, env = "RABAT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// PostgreSQL only: the schema for rabat's tables (created if absent), so several
    /// deployments can share one database [default: the connection's own]
    #[arg(long, env = "RABAT_DATABASE_SCHEMA")]
    pub database_schema: Option<String>,
    /// Bearer token for creating merchants (POST /admin/v1/merchants)
    /// (visible to other users in `ps`: prefer the environment or --operator-token-file)
    #[arg(long, env = "RABAT_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// A file holding the operator token (surrounding whitespace is ignored)
    #[arg(
        long,
        env = "RABAT_OPERATOR_TOKEN_FILE",
        conflicts_with = "operator_token"
    )]
    pub operator_token_file: Option<PathBuf>,
    /// Bearer token for GET /metrics (the operator token is accepted too) [default: only
    /// the operator token]
    #[arg(long, env = "RABAT_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// 64 hex digits (32 random bytes, e.g. `openssl rand -hex 32`) sealing POS connector
    /// tokens (BIFIT's OAuth2 tokens) in the database
    #[arg(long, env = "RABAT_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,
    /// A file holding the secrets key (64 hex digits; surrounding whitespace is ignored)
    #[arg(long, env = "RABAT_SECRETS_KEY_FILE", conflicts_with = "secrets_key")]
    pub secrets_key_file: Option<PathBuf>,
    /// BIFIT connectors may reach loopback, private, link-local and other non-public
    /// addresses (only for a BIFIT inside your own network, or tests) [default: false]
    #[arg(long, env = "RABAT_BIFIT_ALLOW_PRIVATE_ADDRESSES")]
    pub bifit_allow_private_addresses: Option<bool>,
    /// BIFIT connectors may use plain http:// URLs, sending tokens in clear text
    /// [default: false]
    #[arg(long, env = "RABAT_BIFIT_ALLOW_HTTP")]
    pub bifit_allow_http: Option<bool>,
    /// SQLite: read the till's card on the request's thread instead of through the
    /// database pool's thread; false only to measure the difference [default: true]
    #[arg(long, env = "RABAT_SQLITE_LOCAL_READS")]
    pub sqlite_local_reads: Option<bool>,
    /// A TOML file with any of the settings (keys in kebab-case)
    #[arg(long, env = "RABAT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Compiled policies kept in memory; beyond this the least recently used are dropped
    /// and reloaded on demand [default: 1000]
    #[arg(long, env = "RABAT_MAX_LOADED_POLICIES")]
    pub max_loaded_policies: Option<usize>,
    /// Keep compiled policies in the database, so restarts and other replicas load them
    /// instead of compiling [default: true]
    #[arg(long, env = "RABAT_COMPILED_CACHE")]
    pub compiled_cache: Option<bool>,
    /// Policy calls one merchant may run at once; 0 for no bound [default: the number of
    /// cores, at least 2]
    #[arg(long, env = "RABAT_MERCHANT_CONCURRENCY")]
    pub merchant_concurrency: Option<usize>,
    /// Milliseconds a call waits for one of its merchant's slots before answering with
    /// no discount [default: 25]
    #[arg(long, env = "RABAT_MERCHANT_QUEUE_MS")]
    pub merchant_queue_ms: Option<u64>,
    /// Seconds points offered for an open order stay held (paying with points); at
    /// least 1 [default: 86400, a day]
    #[arg(long, env = "RABAT_HOLD_TTL_SECS")]
    pub hold_ttl_secs: Option<u64>,
    /// Milliseconds between checks of a cached policy against the database when no
    /// change notification arrives (PostgreSQL notifies at once) [default: 500]
    #[arg(long, env = "RABAT_POLICY_REVALIDATE_MS")]
    pub policy_revalidate_ms: Option<u64>,
    /// Milliseconds a client has to send a request's headers; also how long an idle
    /// kept-alive connection stays open [default: 10000]
    #[arg(long, env = "RABAT_HEADER_TIMEOUT_MS")]
    pub header_timeout_ms: Option<u64>,
    /// Milliseconds a request body may send nothing before the answer is 408
    /// [default: 30000]
    #[arg(long, env = "RABAT_BODY_TIMEOUT_MS")]
    pub body_timeout_ms: Option<u64>,
    /// Connections served at once; more wait in the listen queue [default: 4096]
    #[arg(long, env = "RABAT_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Milliseconds SIGTERM waits for in-flight requests before closing their
    /// connections [default: 30000]
    #[arg(long, env = "RABAT_SHUTDOWN_GRACE_MS")]
    pub shutdown_grace_ms: Option<u64>,
    /// Policy uploads compiled at once on this server [default: 1]
    #[arg(long, env = "RABAT_MAX_CONCURRENT_COMPILES")]
    pub max_concurrent_compiles: Option<usize>,
    /// Milliseconds an upload waits for a compile slot before 503 [default: 30000]
    #[arg(long, env = "RABAT_COMPILE_QUEUE_MS")]
    pub compile_queue_ms: Option<u64>,
    /// Policy versions one merchant may store [default: 200]
    #[arg(long, env = "RABAT_MAX_POLICY_VERSIONS")]
    pub max_policy_versions: Option<u32>,
    /// Bytes of policy modules one merchant may store, all versions together
    /// [default: 268435456 (256 MiB)]
    #[arg(long, env = "RABAT_MAX_POLICY_BYTES")]
    pub max_policy_bytes: Option<u64>,
    /// Bytes the evaluation log's queue may hold (records handed over by endpoint 1 and
    /// not yet written); beyond it records are dropped and counted, never slowing the till
    /// [default: 67108864, 64 MiB]
    #[arg(long, env = "RABAT_EVALUATION_LOG_MAX_BYTES")]
    pub evaluation_log_max_bytes: Option<usize>,
    /// Days a merchant's evaluations are kept unless it set its own retention [default: 35]
    #[arg(long, env = "RABAT_EVALUATION_LOG_RETENTION_DAYS")]
    pub evaluation_log_retention_days: Option<u32>,
    /// The longest evaluation-log retention, in days, a merchant may have [default: 90]
    #[arg(long, env = "RABAT_EVALUATION_LOG_MAX_RETENTION_DAYS")]
    pub evaluation_log_max_retention_days: Option<u32>,
    /// How often this replica's points task vests and expires lots, in milliseconds
    /// [default: 60000]
    #[arg(long, env = "RABAT_POINTS_EVERY_MS")]
    pub points_every_ms: Option<u64>,
}

/// A secret read from a file: the file's text, trimmed.
fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("could not read the {what} file {}", path.display()))?;
    let text = text.trim();
    anyhow::ensure!(
        !text.is_empty(),
        "the {what} file {} is empty",
        path.display()
    );
    Ok(text.to_owned())
}

/// Secrets given as command-line flags, which every user of the machine can read in
/// `ps`: named in a warning at start (the environment or a `…-file` flag keeps them out).
pub fn secrets_on_the_command_line() -> Vec<&'static str> {
    let args: Vec<String> = std::env::args().collect();
    ["--operator-token", "--secrets-key", "--metrics-token"]
        .into_iter()
        .filter(|flag| {
            args.iter()
                .any(|arg| arg == flag || arg.starts_with(&format!("{flag}=")))
        })
        .collect()
}

impl SettingsArgs {
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => FileSettings::load(path)?,
            None => FileSettings::default(),
        };
        let defaults = Settings::default();
        let secrets_key = match (&self.secrets_key, &self.secrets_key_file) {
            (Some(text), _) => Some(text.clone()),
            (None, Some(path)) => Some(read_secret(path, "secrets key")?),
            (None, None) => match (file.secrets_key, &file.secrets_key_file) {
                (Some(text), _) => Some(text),
                (None, Some(path)) => Some(read_secret(path, "secrets key")?),
                (None, None) => None,
            },
        };
        let secrets_key = secrets_key
            .map(|text| SecretsKey::from_hex(&text))
            .transpose()
            .map_err(|why| {
                anyhow::anyhow!("--secrets-key / RABAT_SECRETS_KEY / --secrets-key-file: {why}")
            })?;
        let operator_token = match (&self.operator_token, &self.operator_token_file) {
            (Some(text), _) => Some(text.clone()),
            (None, Some(path)) => Some(read_secret(path, "operator token")?),
            (None, None) => match (file.operator_token, &file.operator_token_file) {
                (Some(text), _) => Some(text),
                (None, Some(path)) => Some(read_secret(path, "operator token")?),
                (None, None) => None,
            },
        };
        if let Some(token) = &operator_token {
            anyhow::ensure!(
                token.chars().count() >= MIN_OPERATOR_TOKEN_CHARS,
                "the operator token (--operator-token / RABAT_OPERATOR_TOKEN / --operator-token-file) is {} characters long: it must be at least {MIN_OPERATOR_TOKEN_CHARS} (e.g. `openssl rand -hex 32`)",
                token.chars().count()
            );
        }
        let metrics_token = self.metrics_token.clone().or(file.metrics_token);
        if let Some(token) = &metrics_token {
            anyhow::ensure!(
                token.chars().count() >= MIN_OPERATOR_TOKEN_CHARS,
                "the metrics token (--metrics-token / RABAT_METRICS_TOKEN) is {} characters long: it must be at least {MIN_OPERATOR_TOKEN_CHARS}",
                token.chars().count()
            );
        }
        let mut bifit = file.bifit.unwrap_or(defaults.bifit);
        if let Some(allow) = self.bifit_allow_private_addresses {
            bifit.allow_private_addresses = allow;
        }
        if let Some(allow) = self.bifit_allow_http {
            bifit.allow_http = allow;
        }
        let http = HttpLimits {
            header_timeout: self
                .header_timeout_ms
                .or(file.header_timeout_ms)
                .map_or(defaults.http.header_timeout, Duration::from_millis),
            body_timeout: self
                .body_timeout_ms
                .or(file.body_timeout_ms)
                .map_or(defaults.http.body_timeout, Duration::from_millis),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(defaults.http.max_connections)
                .max(1),
            shutdown_grace: self
                .shutdown_grace_ms
                .or(file.shutdown_grace_ms)
                .map_or(defaults.http.shutdown_grace, Duration::from_millis),
        };
        anyhow::ensure!(
            !http.header_timeout.is_zero() && !http.body_timeout.is_zero(),
            "header-timeout-ms and body-timeout-ms must be above 0"
        );
        let evaluation_log_retention_days = self
            .evaluation_log_retention_days
            .or(file.evaluation_log_retention_days)
            .unwrap_or(defaults.evaluation_log_retention_days);
        let evaluation_log_max_retention_days = self
            .evaluation_log_max_retention_days
            .or(file.evaluation_log_max_retention_days)
            .unwrap_or(defaults.evaluation_log_max_retention_days);
        anyhow::ensure!(
            evaluation_log_retention_days >= 1 && evaluation_log_max_retention_days >= 1,
            "evaluation-log-retention-days and evaluation-log-max-retention-days must be at least 1"
        );
        anyhow::ensure!(
            evaluation_log_retention_days <= evaluation_log_max_retention_days,
            "evaluation-log-retention-days ({evaluation_log_retention_days}) must not exceed evaluation-log-max-retention-days ({evaluation_log_max_retention_days})"
        );
        let uploads = UploadLimits {
            max_concurrent_compiles: self
                .max_concurrent_compiles
                .or(file.max_concurrent_compiles)
                .unwrap_or(defaults.uploads.max_concurrent_compiles)
                .max(1),
            compile_queue: self
                .compile_queue_ms
                .or(file.compile_queue_ms)
                .map_or(defaults.uploads.compile_queue, Duration::from_millis),
            max_policy_versions: self
                .max_policy_versions
                .or(file.max_policy_versions)
                .unwrap_or(defaults.uploads.max_policy_versions),
            max_policy_bytes: self
                .max_policy_bytes
                .or(file.max_policy_bytes)
                .unwrap_or(defaults.uploads.max_policy_bytes),
            module_limits: file.module_limits.unwrap_or(defaults.uploads.module_limits),
        };
        Ok(Settings {
            bind: self.bind.or(file.bind).unwrap_or(defaults.bind),
            database_url: self
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or(defaults.database_url),
            database_schema: self.database_schema.clone().or(file.database_schema),
            sqlite_local_reads: self
                .sqlite_local_reads
                .or(file.sqlite_local_reads)
                .unwrap_or(defaults.sqlite_local_reads),
            operator_token,
            max_body_bytes: file.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_module_bytes: file.max_module_bytes.unwrap_or(defaults.max_module_bytes),
            evaluation_log_retention: file
                .evaluation_log_retention
                .unwrap_or(defaults.evaluation_log_retention),
            evaluation_log_max_bytes: self
                .evaluation_log_max_bytes
                .or(file.evaluation_log_max_bytes)
                .unwrap_or(defaults.evaluation_log_max_bytes),
            evaluation_log_retention_days,
            evaluation_log_max_retention_days,
            policy_limits: file.policy_limits.unwrap_or(defaults.policy_limits),
            secrets_key,
            bifit,
            max_loaded_policies: self
                .max_loaded_policies
                .or(file.max_loaded_policies)
                .unwrap_or(defaults.max_loaded_policies)
                .max(1),
            compiled_cache: self
                .compiled_cache
                .or(file.compiled_cache)
                .unwrap_or(defaults.compiled_cache),
            merchant_concurrency: self
                .merchant_concurrency
                .or(file.merchant_concurrency)
                .unwrap_or(defaults.merchant_concurrency),
            merchant_queue: self
                .merchant_queue_ms
                .or(file.merchant_queue_ms)
                .map_or(defaults.merchant_queue, Duration::from_millis),
            inline_deadline: defaults.inline_deadline,
            policy_revalidate: self
                .policy_revalidate_ms
                .or(file.policy_revalidate_ms)
                .map_or(defaults.policy_revalidate, Duration::from_millis),
            hold_ttl: self
                .hold_ttl_secs
                .or(file.hold_ttl_secs)
                .map_or(defaults.hold_ttl, Duration::from_secs)
                .max(Duration::from_secs(1)),
            points_every: self
                .points_every_ms
                .or(file.points_every_ms)
                .map_or(defaults.points_every, Duration::from_millis)
                .max(Duration::from_millis(100)),
            metrics_token,
            http,
            uploads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rabat.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\ndatabase-url = \"sqlite://file.db\"\nmax-body-bytes = 1000\n[policy-limits]\nfuel = 5\n",
        )
        .unwrap();
        let args = SettingsArgs {
            bind: Some("127.0.0.1:7000".parse().unwrap()),
            config: Some(path),
            ..SettingsArgs::default()
        };
        let settings = args.resolve().unwrap();
        assert_eq!(settings.bind.port(), 7000);
        assert_eq!(settings.database_url, "sqlite://file.db");
        assert_eq!(settings.max_body_bytes, 1000);
        assert_eq!(settings.policy_limits.fuel, 5);
        assert_eq!(
            settings.policy_limits.deadline_ms,
            Limits::default().deadline_ms
        );
    }

    #[test]
    fn bifit_settings_and_the_secrets_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rabat.toml");
        let key = "ab".repeat(32);
        std::fs::write(
            &path,
            format!("secrets-key = \"{key}\"\n[bifit]\nretries = 5\nbackoff-max-ms = 1000\n"),
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(path.clone()),
            ..SettingsArgs::default()
        };
        let settings = args.resolve().unwrap();
        assert_eq!(settings.bifit.retries, 5);
        assert_eq!(settings.bifit.backoff_max_ms, 1000);
        assert_eq!(settings.bifit.lease_ms, BifitSettings::default().lease_ms);
        assert_eq!(settings.secrets_key.map(|k| k.to_hex()), Some(key));
        assert!(!format!("{:?}", args.resolve().unwrap()).contains(&"ab".repeat(32)));

        std::fs::write(&path, "[bifit]\nretrys = 5\n").unwrap();
        let err = format!("{:#}", args.resolve().unwrap_err());
        assert!(err.contains("retrys"), "{err}");
        let args = SettingsArgs {
            secrets_key: Some("short".into()),
            ..SettingsArgs::default()
        };
        let err = format!("{:#}", args.resolve().unwrap_err());
        assert!(
            err.contains("RABAT_SECRETS_KEY") && err.contains("64 hex digits"),
            "{err}"
        );
    }

    #[test]
    fn scaling_settings_from_flags_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rabat.toml");
        std::fs::write(
            &path,
            "max-loaded-policies = 50\ncompiled-cache = false\nmerchant-concurrency = 3\nmerchant-queue-ms = 7\npolicy-revalidate-ms = 2000\n",
        )
        .unwrap();
        let args = SettingsArgs {
            config: Some(path),
            max_loaded_policies: Some(10),
            ..SettingsArgs::default()
        };
        let settings = args.resolve().unwrap();
        assert_eq!(settings.max_loaded_policies, 10);
        assert!(!settings.compiled_cache);
        assert_eq!(settings.merchant_concurrency, 3);
        assert_eq!(settings.merchant_queue, Duration::from_millis(7));
        assert_eq!(settings.policy_revalidate, Duration::from_secs(2));
        let defaults = SettingsArgs::default().resolve().unwrap();
        assert!(defaults.compiled_cache);
        assert!(defaults.merchant_concurrency >= 2);
    }

    #[test]
    fn hold_ttl_from_the_file_the_environment_or_a_flag() {
        let defaults = SettingsArgs::default().resolve().unwrap();
        assert_eq!(defaults.hold_ttl, Duration::from_secs(24 * 60 * 60));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rabat.toml");
        std::fs::write(&path, "hold-ttl-secs = 600\n").unwrap();
        let from_file = SettingsArgs {
            config: Some(path.clone()),
            ..SettingsArgs::default()
        };
        assert_eq!(
            from_file.resolve().unwrap().hold_ttl,
            Duration::from_secs(600)
        );
        let flag_wins = SettingsArgs {
            config: Some(path),
            hold_ttl_secs: Some(0),
            ..SettingsArgs::default()
        };
        // 0 would hold nothing at all: the least is one second.
        assert_eq!(
            flag_wins.resolve().unwrap().hold_ttl,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn an_unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rabat.toml");
        std::fs::write(&path, "bnid = \"x\"\n").unwrap();
        let args = SettingsArgs {
            config: Some(path),
            ..SettingsArgs::default()
        };
        let err = format!("{:#}", args.resolve().unwrap_err());
        assert!(err.contains("bnid"), "{err}");
    }
}
