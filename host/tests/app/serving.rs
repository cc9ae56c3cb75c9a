//! The real `rabat serve` against slow and greedy clients on real sockets: header and
//! body timeouts, idle connections, the connection cap, SIGTERM's grace period; and the
//! start-up checks on secrets (short operator token, secrets from files). Settings are
//! cut short so the tests are fast. (Engine-independent: SQLite files.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::process::{OPERATOR, Server};

/// `rabat serve` on a fresh SQLite file with `extra` flags, once ready.
async fn serve(dir: &tempfile::TempDir, extra: &[&str]) -> Server {
    let url = format!("sqlite://{}", dir.path().join("rabat.db").display());
    Server::start_with(&url, None, extra).await
}

async fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `within` passes: `None`).
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(within, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&seen).into_owned())
}

fn sigterm(child: &Child) {
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_headers_slowly_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--header-timeout-ms", "400"]).await;
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let closed = read_to_close(&mut slow, Duration::from_secs(5)).await;
    assert!(
        closed.is_some(),
        "the connection was still open 5 s after headers stalled"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A client that sends nothing at all is cut off too.
    let mut silent = connect(&server).await;
    assert!(
        read_to_close(&mut silent, Duration::from_secs(5))
            .await
            .is_some()
    );
    // Honest clients are served.
    assert_eq!(
        server.call("GET", "/healthz", None, "").await.unwrap().0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--header-timeout-ms", "400"]).await;
    let mut client = connect(&server).await;
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let n = client.read(&mut buffer).await.unwrap();
    assert!(
        String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buffer[..n])
    );
    // Kept alive, then idle: closed by the server.
    assert!(
        read_to_close(&mut client, Duration::from_secs(5))
            .await
            .is_some(),
        "an idle connection stayed open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_is_answered_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir, &["--body-timeout-ms", "400"]).await;
    let mut client = connect(&server).await;
    let head = format!(
        "POST /admin/v1/merchants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"id\": \"slo"
    );
    client.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut client, Duration::from_secs(5))
        .await
        .expect("no answer 5 s after the body stalled");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error_id\":13"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(
        &dir,
        &["--max-connections", "2", "--header-timeout-ms", "60000"],
    )
    .await;
    // Two connections that send nothing hold both slots.
    let first = connect(&server).await;
    let _second = connect(&server).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let port = server.port;
    let third =
        tokio::spawn(async move { Server::probe(port).call("GET", "/healthz", None, "").await });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!third.is_finished(), "a third connection was served");
    // One slot frees up: the waiting connection is served.
    drop(first);
    let answer = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the waiting connection was not served once a slot was free")
        .unwrap()
        .unwrap();
    assert_eq!(answer.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_up_on_a_stalled_upload_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(
        &dir,
        &["--body-timeout-ms", "120000", "--shutdown-grace-ms", "500"],
    )
    .await;
    let mut stalled = connect(&server).await;
    let head = format!(
        "POST /admin/v1/merchants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {OPERATOR}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    stalled.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    sigterm(&server.child);
    let started = Instant::now();
    let mut exit = None;
    while started.elapsed() < Duration::from_secs(10) {
        if let Some(status) = server.child.try_wait().unwrap() {
            exit = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let exit = exit.expect("rabat did not stop within 10 s of SIGTERM with a stalled upload");
    assert!(exit.success(), "rabat exited with {exit}");
    drop(stalled);
}

/// Runs `rabat serve` with `args` and `env` until it is ready or has exited; answers the
/// child (running or not) and its port.
fn spawn(dir: &tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_rabat"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args([
            "--database-url",
            &format!("sqlite://{}", dir.path().join("rabat.db").display()),
        ])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    (child, port)
}

/// What the process wrote (logs go to stdout, errors to stderr), once it is stopped.
fn stderr_of(mut child: Child) -> String {
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn a_short_operator_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for (args, env) in [
        (vec!["--operator-token", "x"], vec![]),
        (vec![], vec![("RABAT_OPERATOR_TOKEN", "fifteen-chars!!")]),
    ] {
        let (mut child, _) = spawn(&dir, &args, &env);
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "rabat started with a short operator token"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success());
        let stderr = stderr_of(child);
        assert!(
            stderr.contains("operator token") && stderr.contains("at least 16"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_read_from_files_and_flags_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("operator-token");
    std::fs::write(&token_file, "file-operator-token-0123\n").unwrap();
    let key_file = dir.path().join("secrets-key");
    std::fs::write(&key_file, crate::common::app::TEST_SECRETS_KEY).unwrap();
    let (child, port) = spawn(
        &dir,
        &["--operator-token-file", token_file.to_str().unwrap()],
        &[("RABAT_SECRETS_KEY_FILE", key_file.to_str().unwrap())],
    );
    let client = Server::probe(port);
    let started = Instant::now();
    while !matches!(client.call("GET", "/readyz", None, "").await, Ok((200, _))) {
        assert!(started.elapsed() < Duration::from_secs(60), "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, text) = client
        .call(
            "POST",
            "/admin/v1/merchants",
            Some("file-operator-token-0123"),
            r#"{"id": "filed", "name": "Filed"}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{text}");
    let merchant: serde_json::Value = serde_json::from_str(&text).unwrap();
    let api_key = merchant["apiKey"].as_str().unwrap();
    // The secrets key came from its file: a connector's tokens can be sealed.
    let (status, text) = client
        .call(
            "PUT",
            "/admin/v1/merchants/filed/connectors/bifit",
            Some(api_key),
            r#"{"accessToken": "at-0"}"#,
        )
        .await
        .unwrap();
    assert_eq!(status, 201, "{text}");
    let stderr = stderr_of(child);
    assert!(!stderr.contains("command line"), "{stderr}");

    // The same secrets as flags: served, with a warning that `ps` shows them.
    let (child, port) = spawn(
        &dir,
        &[
            "--operator-token",
            "flag-operator-token-0123",
            "--secrets-key",
            crate::common::app::TEST_SECRETS_KEY,
        ],
        &[],
    );
    let client = Server::probe(port);
    let started = Instant::now();
    while !matches!(client.call("GET", "/readyz", None, "").await, Ok((200, _))) {
        assert!(started.elapsed() < Duration::from_secs(60), "not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = stderr_of(child);
    for flag in ["--operator-token", "--secrets-key"] {
        assert!(
            stderr.contains(&format!("{flag} was given on the command line")),
            "{flag}: {stderr:?}"
        );
    }
}
