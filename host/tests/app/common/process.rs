//! The real `rabat` binary as a separate process on a loopback port, and a minimal
//! HTTP/1.1 client for it (one request per connection, so a killed server shows up as
//! an error on exactly the requests it never answered).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const OPERATOR: &str = "process-operator-token";

pub struct Server {
    pub child: Child,
    pub port: u16,
}

impl Server {
    /// Starts `rabat serve` on a free port and waits until it is ready.
    pub async fn start(database_url: &str, schema: Option<&str>) -> Server {
        Self::start_with(database_url, schema, &[]).await
    }

    /// Like [`Server::start`], with more `serve` flags.
    pub async fn start_with(database_url: &str, schema: Option<&str>, extra: &[&str]) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_rabat"));
        command
            .args([
                "serve",
                "--bind",
                &format!("127.0.0.1:{port}"),
                "--database-url",
                database_url,
            ])
            .args(["--operator-token", OPERATOR])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(schema) = schema {
            command.args(["--database-schema", schema]);
        }
        command.args(extra);
        let child = command.spawn().unwrap();
        let server = Server { child, port };
        let started = Instant::now();
        loop {
            if let Ok((200, _)) = server.call("GET", "/readyz", None, "").await {
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "rabat did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A client for a server on `port` (owned by someone else).
    pub fn probe(port: u16) -> Client {
        Client { port }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: impl AsRef<[u8]>,
    ) -> std::io::Result<(u16, String)> {
        call(self.port, method, path, token, body.as_ref()).await
    }
}

/// Calls a server by port.
#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub port: u16,
}

impl Client {
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: impl AsRef<[u8]>,
    ) -> std::io::Result<(u16, String)> {
        call(self.port, method, path, token, body.as_ref()).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn call(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP status in {text:?}")))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}
