//! What a connection may cost (SPEC §9): headers delivered within `header_read_timeout`, idle
//! at most `keep_alive_timeout`, at most `max_connections` open (one more closed at once).
//! Raw sockets, so the test sees exactly when the server closes; every wait has a deadline.

use countersign_test_support::{TestApp, spawn_app_with};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a test waits for the server to act; a deadline, never a measured duration.
const DEADLINE: Duration = Duration::from_secs(10);

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: countersign.test\r\n\r\n";

fn addr(app: &TestApp) -> SocketAddr {
    app.server().local_addr()
}

/// Whether the server closes the connection (end of stream or reset) before the deadline.
async fn is_closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    loop {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Sends `GET /healthz` on the stream; true when a 200 comes back (false when it is closed).
async fn healthz_on(stream: &mut TcpStream) -> bool {
    if stream.write_all(HEALTHZ).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buffer[..n]),
            _ => return false,
        }
    }
    let text = String::from_utf8_lossy(&answer);
    if !text.starts_with("HTTP/1.1 200") {
        return false;
    }
    // Read the (short) body so the connection is idle again.
    let length: usize = text
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let header_end = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut body = answer.len() - header_end;
    while body < length {
        match tokio::time::timeout(DEADLINE, stream.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => body += n,
            _ => return false,
        }
    }
    true
}

/// A new connection on which `/healthz` answered 200, or `None` when it was closed.
async fn served_connection(addr: SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    healthz_on(&mut stream).await.then_some(stream)
}

#[tokio::test]
async fn partial_request_headers_are_closed_after_the_header_read_timeout() {
    let app = spawn_app_with(|c| c.header_read_timeout = 0.3).await;
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: countersign.test\r\n")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(is_closed_by_server(&mut slow).await, "partial headers");
    assert!(is_closed_by_server(&mut silent).await, "no bytes at all");
    assert!(
        served_connection(addr(&app)).await.is_some(),
        "a prompt request is served"
    );
}

/// A body sent a byte at a time is cut off after as long again as the header timeout: the
/// client gets a 4xx and the connection (and its `max_connections` slot) is released.
#[tokio::test]
async fn a_request_body_that_trickles_is_refused_and_its_connection_released() {
    let app = spawn_app_with(|c| c.header_read_timeout = 0.3).await;
    let admin = format!("Authorization: Bearer {}\r\n", app.admin_token);
    for (path, content_type, expected, extra) in [
        // OAuth 2.0 has no timeout error: invalid_request.
        ("/oauth/token", "application/x-www-form-urlencoded", 400, ""),
        ("/v1/credentials/leaked", "application/json", 408, ""),
        (
            "/api/v3.5/authentication/apiUser",
            "application/json",
            408,
            "",
        ),
        ("/admin/v1/users", "application/json", 408, admin.as_str()),
        (
            "/console/sign-in",
            "application/x-www-form-urlencoded",
            408,
            "",
        ),
    ] {
        let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: countersign.test\r\n{extra}\
             Content-Type: {content_type}\r\nContent-Length: 1000\r\n\r\n["
        );
        slow.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        loop {
            match tokio::time::timeout(DEADLINE, slow.read(&mut buffer)).await {
                Err(_) => panic!("{path}: the server kept waiting for the body"),
                Ok(Ok(0) | Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            }
        }
        let text = String::from_utf8_lossy(&answer);
        let status: u16 = text
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("{path}: no answer before the close: {text:?}"));
        assert_eq!(status, expected, "{path}: {text}");
    }
    assert!(
        served_connection(addr(&app)).await.is_some(),
        "a prompt request is served"
    );
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let app = spawn_app_with(|c| c.keep_alive_timeout = 1.0).await;
    let mut stream = served_connection(addr(&app)).await.unwrap();
    assert!(healthz_on(&mut stream).await, "kept alive between requests");
    assert!(is_closed_by_server(&mut stream).await);
}

#[tokio::test]
async fn connection_beyond_max_connections_is_closed_at_once_and_a_freed_slot_serves() {
    let mut app = spawn_app_with(|c| c.max_connections = 3).await;
    // The set-up's pooled connections close with their client; until the server has seen them
    // go, a new connection may still be refused, so the three places are filled with a deadline.
    app.client = reqwest::Client::new();
    let end = tokio::time::Instant::now() + DEADLINE;
    let mut held = Vec::new();
    while held.len() < 3 {
        match served_connection(addr(&app)).await {
            Some(stream) => held.push(stream),
            None => {
                assert!(tokio::time::Instant::now() < end, "three places never free");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let mut extra = TcpStream::connect(addr(&app)).await.unwrap();
    assert!(
        is_closed_by_server(&mut extra).await,
        "the fourth is closed"
    );
    for stream in &mut held {
        assert!(healthz_on(stream).await, "held connections still serve");
    }
    drop(held.pop());
    let freed = app
        .eventually(DEADLINE, || async {
            served_connection(addr(&app)).await.is_some()
        })
        .await;
    assert!(freed, "a freed place serves /healthz");
}
