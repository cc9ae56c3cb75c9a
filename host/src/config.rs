//! Settings, read once at start: flags win over the environment, which wins over the
//! optional TOML file, which wins over the defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::bifit::BifitSettings;
use crate::policy::Limits;
use crate::secrets::SecretsKey;

/// The TOML file's shape. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileSettings {
    pub bind: Option<SocketAddr>,
    pub database_url: Option<String>,
    /// PostgreSQL: keep rabat's tables in this schema (created if absent).
    pub database_schema: Option<String>,
    pub operator_token: Option<String>,
    /// Largest request body, in bytes.
    pub max_body_bytes: Option<usize>,
    /// Largest policy module accepted at upload, in bytes.
    pub max_module_bytes: Option<usize>,
    /// Evaluations kept per merchant in the evaluation log.
    pub evaluation_log_retention: Option<u32>,
    /// Default per-call policy limits.
    pub policy_limits: Option<Limits>,
    /// 64 hex digits: the key that seals POS connector tokens at rest.
    pub secrets_key: Option<String>,
    /// The BIFIT Kassa connector's timeouts, retries and follower (`[bifit]`).
    pub bifit: Option<BifitSettings>,
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
    pub operator_token: Option<String>,
    pub max_body_bytes: usize,
    pub max_module_bytes: usize,
    pub evaluation_log_retention: u32,
    pub policy_limits: Limits,
    /// Seals POS connector tokens at rest; without it no connector can be set up.
    pub secrets_key: Option<SecretsKey>,
    pub bifit: BifitSettings,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://rabat.db";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.into(),
            database_schema: None,
            operator_token: None,
            max_body_bytes: 256 << 10,
            max_module_bytes: 4 << 20,
            evaluation_log_retention: 10_000,
            policy_limits: Limits::default(),
            secrets_key: None,
            bifit: BifitSettings::default(),
        }
    }
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
    #[arg(long, env = "RABAT_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<String>,
    /// 64 hex digits (32 random bytes, e.g. `openssl rand -hex 32`) sealing POS connector
    /// tokens (BIFIT's OAuth2 tokens) in the database
    #[arg(long, env = "RABAT_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,
    /// A TOML file with any of the settings (keys in kebab-case)
    #[arg(long, env = "RABAT_CONFIG")]
    pub config: Option<PathBuf>,
}

impl SettingsArgs {
    pub fn resolve(&self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => FileSettings::load(path)?,
            None => FileSettings::default(),
        };
        let defaults = Settings::default();
        let secrets_key = self
            .secrets_key
            .clone()
            .or(file.secrets_key)
            .map(|text| SecretsKey::from_hex(&text))
            .transpose()
            .map_err(|why| anyhow::anyhow!("--secrets-key / RABAT_SECRETS_KEY: {why}"))?;
        Ok(Settings {
            bind: self.bind.or(file.bind).unwrap_or(defaults.bind),
            database_url: self
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or(defaults.database_url),
            database_schema: self.database_schema.clone().or(file.database_schema),
            operator_token: self.operator_token.clone().or(file.operator_token),
            max_body_bytes: file.max_body_bytes.unwrap_or(defaults.max_body_bytes),
            max_module_bytes: file.max_module_bytes.unwrap_or(defaults.max_module_bytes),
            evaluation_log_retention: file
                .evaluation_log_retention
                .unwrap_or(defaults.evaluation_log_retention),
            policy_limits: file.policy_limits.unwrap_or(defaults.policy_limits),
            secrets_key,
            bifit: file.bifit.unwrap_or(defaults.bifit),
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
