//! What the integration tests share: databases, a running app, built policies.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod app;
pub mod bifit;
#[path = "../../../store/tests/common/db.rs"]
pub mod db;
pub mod process;
#[path = "../../../sandbox/tests/common/wasm.rs"]
pub mod wasm;

/// Declares each scenario `async fn name(app: &TestApp)` as `sqlite::name` and
/// `postgres::name` (the latter runs when `RABAT_TEST_POSTGRES_URL` is set).
#[macro_export]
macro_rules! app_on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::common::app::TestApp::new($crate::common::db::TestDb::sqlite().await).await;
                    super::$name(&app).await;
                    app.shutdown().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(db) = $crate::common::db::TestDb::postgres().await {
                        let app = $crate::common::app::TestApp::new(db).await;
                        super::$name(&app).await;
                        app.shutdown().await;
                    }
                }
            )*
        }
    };
}
