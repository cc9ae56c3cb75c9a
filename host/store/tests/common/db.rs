//! Test databases: a fresh SQLite file, or a PostgreSQL schema of its own when
//! `RABAT_TEST_POSTGRES_URL` is set (and a failure, never a skip, when it is set but the
//! server cannot be reached).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rabat_store::{Store, StoreOptions};
use sqlx::{AssertSqlSafe, Connection};

pub const PG_ENV: &str = "RABAT_TEST_POSTGRES_URL";

// ---------------------------------------------------------------------------------------
// Harness

pub enum Target {
    /// Another handle on a database some other `TestDb` owns (and cleans up).
    Shared,
    Sqlite {
        _dir: tempfile::TempDir,
        path: PathBuf,
    },
    Postgres {
        url: String,
        schema: String,
    },
}

pub struct TestDb {
    pub store: Store,
    pub target: Target,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rabat.db");
        let store = Store::connect(path.to_str().unwrap()).await.unwrap();
        TestDb {
            store,
            target: Target::Sqlite { _dir: dir, path },
        }
    }

    /// `None` when PostgreSQL tests are not asked for; panics when asked for and failing.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(url) = std::env::var(PG_ENV) else {
            eprintln!("{PG_ENV} is not set: PostgreSQL variant not run");
            return None;
        };
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = format!(
            "rabat_test_{}_{}_{}",
            std::process::id(),
            nanos,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let store = Store::connect_with(&pg_options(&url, &schema))
            .await
            .unwrap_or_else(|e| panic!("{PG_ENV}={url} is set but unusable: {e}"));
        Some(TestDb {
            store,
            target: Target::Postgres { url, schema },
        })
    }

    /// A second, independent store on the same database (as after a restart).
    pub async fn reopen(&self) -> Store {
        match &self.target {
            Target::Shared => panic!("reopen the owning TestDb"),
            Target::Sqlite { path, .. } => {
                Store::connect(&format!("sqlite://{}", path.display())).await
            }
            Target::Postgres { url, schema } => Store::connect_with(&pg_options(url, schema)).await,
        }
        .unwrap()
    }
}

impl TestDb {
    /// PostgreSQL only: a connection of its own in the test's schema, behind the store's
    /// back (to hold a lock the store must work around).
    pub async fn pg_connection(&self) -> sqlx::PgConnection {
        let Target::Postgres { url, schema } = &self.target else {
            panic!("pg_connection on a database that is not PostgreSQL");
        };
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        let path = format!("SET search_path TO \"{schema}\"");
        sqlx::query(AssertSqlSafe(path))
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }

    /// Runs one SQL statement on the database directly, behind the store's back (to
    /// damage what a test wants damaged).
    pub async fn execute(&self, sql: &str) {
        let sql = sql.to_owned();
        match &self.target {
            Target::Shared => panic!("execute on the owning TestDb"),
            Target::Sqlite { path, .. } => {
                let url = format!("sqlite://{}", path.display());
                let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
            Target::Postgres { url, schema } => {
                let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
                let path = format!("SET search_path TO \"{schema}\"");
                sqlx::query(AssertSqlSafe(path))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                sqlx::query(AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
    }
}

pub fn pg_options(url: &str, schema: &str) -> StoreOptions {
    let mut options = StoreOptions::new(url);
    options.postgres_schema = Some(schema.to_owned());
    options.max_connections = 8;
    options
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Target::Postgres { url, schema } = &self.target else {
            return;
        };
        let (url, schema) = (url.clone(), schema.clone());
        // Drop runs inside the test's runtime, which cannot be blocked on: clean up from a
        // thread with a runtime of its own. Runs on panic too, so failed tests leave no schema.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&url).await?;
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await?;
                conn.close().await
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("could not drop test schema: {e}");
        }
    }
}
