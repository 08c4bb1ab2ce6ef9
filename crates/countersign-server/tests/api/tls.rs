//! TLS served directly (SPEC §8): HTTPS on the listening port, TLS 1.2 and 1.3, plain HTTP
//! refused, and a certificate reload that reaches new connections only.

use axum::body::Body;
use countersign_server::tls::TlsFiles;
use countersign_test_support::Call as _;
use countersign_test_support::CreatedApiUser;
use countersign_test_support::{TestApp, spawn_tls_app, spawn_tls_app_with};
use hyper_util::rt::TokioIo;
use reqwest::StatusCode;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use tokio::net::TcpStream;

/// A self-signed certificate for 127.0.0.1 and localhost.
struct Certificate {
    pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn certificate(name: &str) -> Certificate {
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Certificate {
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn write(dir: &Path, certificate: &Certificate) -> TlsFiles {
    let files = TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&files.cert, &certificate.pem).unwrap();
    std::fs::write(&files.key, &certificate.key_pem).unwrap();
    files
}

fn addr(app: &TestApp) -> SocketAddr {
    app.server().local_addr()
}

/// The server's provider (ring).
#[expect(deprecated, reason = "the server uses ring too")]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// An HTTP/1.1 connection over TLS that trusts `trusted`, pinned to `versions`; returns the
/// request sender, the server's certificate and the negotiated version.
async fn connect(
    addr: SocketAddr,
    trusted: &[&Certificate],
    versions: &[&'static SupportedProtocolVersion],
) -> (
    hyper::client::conn::http1::SendRequest<Body>,
    Vec<u8>,
    rustls::ProtocolVersion,
) {
    let mut roots = RootCertStore::empty();
    for certificate in trusted {
        roots
            .add(CertificateDer::from(certificate.der.clone()))
            .unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let stream = connector
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .unwrap();
    let (_, session) = stream.get_ref();
    let peer = session.peer_certificates().unwrap()[0].to_vec();
    let version = session.protocol_version().unwrap();
    assert_eq!(session.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    (sender, peer, version)
}

async fn get(sender: &mut hyper::client::conn::http1::SendRequest<Body>, path: &str) -> StatusCode {
    let request = axum::http::Request::get(path)
        .header("host", "127.0.0.1")
        .body(Body::empty())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    axum::body::to_bytes(Body::new(response.into_body()), 1 << 20)
        .await
        .unwrap();
    StatusCode::from_u16(status.as_u16()).unwrap()
}

#[tokio::test]
async fn tls_serves_https_and_verifies_bearer_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate("first");
    let app = spawn_tls_app(write(dir.path(), &first), first.pem.as_bytes()).await;
    assert!(app.base.starts_with("https://"));
    let health = app.get("/healthz").call().await;
    assert_eq!(health.status(), StatusCode::OK);

    app.create_user("bob@mycompany.com", None).await;
    app.create_sender("carol@mycompany.com", None).await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("OrgBot", json!({"type": "organization"}))
        .await;
    let token = app.token("OrgBot", &key, "carol@mycompany.com").await;
    let verified = app.verify(&token, None).await;
    assert_eq!(verified.status(), StatusCode::OK);
    let refused = app.verify("not-a-token", None).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tls_refuses_plain_http_and_offers_tls_1_2_and_1_3() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate("first");
    let app = spawn_tls_app(write(dir.path(), &first), first.pem.as_bytes()).await;
    let addr = addr(&app);

    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP answered on the TLS port");

    let (mut tls13, _, version) = connect(addr, &[&first], &[&rustls::version::TLS13]).await;
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(get(&mut tls13, "/healthz").await, StatusCode::OK);
    let (mut tls12, _, version) = connect(addr, &[&first], &[&rustls::version::TLS12]).await;
    assert_eq!(version, rustls::ProtocolVersion::TLSv1_2);
    assert_eq!(get(&mut tls12, "/healthz").await, StatusCode::OK);
}

#[tokio::test]
async fn tls_reload_reaches_new_connections_and_keeps_open_ones() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate("first");
    let second = certificate("second");
    let app = spawn_tls_app(write(dir.path(), &first), first.pem.as_bytes()).await;
    let addr = addr(&app);
    let both = [&first, &second];

    let (mut before, peer, _) = connect(addr, &both, &[&rustls::version::TLS13]).await;
    assert_eq!(peer, first.der);
    assert_eq!(get(&mut before, "/healthz").await, StatusCode::OK);

    write(dir.path(), &second);
    app.server().reload_tls().unwrap();

    let (mut after, peer, _) = connect(addr, &both, &[&rustls::version::TLS13]).await;
    assert_eq!(
        peer, second.der,
        "a new connection sees the new certificate"
    );
    assert_eq!(get(&mut after, "/healthz").await, StatusCode::OK);
    // The connection opened before the reload answers again on the same keep-alive connection.
    assert_eq!(get(&mut before, "/healthz").await, StatusCode::OK);
}

#[tokio::test]
async fn tls_reload_with_a_broken_key_keeps_the_old_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate("first");
    let second = certificate("second");
    let app = spawn_tls_app(write(dir.path(), &first), first.pem.as_bytes()).await;
    let addr = addr(&app);
    let both = [&first, &second];

    // The second certificate with the first one's key: the key does not match.
    std::fs::write(dir.path().join("cert.pem"), &second.pem).unwrap();
    assert!(app.server().reload_tls().is_err());
    let (mut client, peer, _) = connect(addr, &both, &[&rustls::version::TLS13]).await;
    assert_eq!(peer, first.der);
    assert_eq!(get(&mut client, "/healthz").await, StatusCode::OK);

    // A key file that is not PEM at all.
    std::fs::write(dir.path().join("key.pem"), "not a key").unwrap();
    assert!(app.server().reload_tls().is_err());
    let (mut client, peer, _) = connect(addr, &both, &[&rustls::version::TLS12]).await;
    assert_eq!(peer, first.der);
    assert_eq!(get(&mut client, "/healthz").await, StatusCode::OK);
}

#[tokio::test]
async fn tls_makes_console_cookies_secure_whatever_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let first = certificate("first");
    let app = spawn_tls_app_with(write(dir.path(), &first), first.pem.as_bytes(), |config| {
        config.public_url = "http://auth.example.com".into();
    })
    .await;
    let page = app.get("/console/sign-in").call().await;
    assert_eq!(page.status(), StatusCode::OK);
    let cookie = page
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("; HttpOnly"), "{cookie}");
}
