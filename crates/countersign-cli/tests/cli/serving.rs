//! doctor, running out of file descriptors, TLS settings, and lists complete past the first page.

use super::*;
use countersign_core::directory::Account;

#[test]
fn doctor_reports_look_alike_names_kept_from_before_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    run(&dir, &["init"]);
    let clean = run(&dir, &["doctor"]);
    assert!(clean.contains("no names look alike"), "{clean}");
    run(
        &dir,
        &[
            "api-user",
            "create",
            "--username",
            "svc-reports",
            "--scope",
            "organization",
            "--expires-at",
            &(time::OffsetDateTime::now_utc() + time::Duration::days(30))
                .date()
                .to_string(),
        ],
    );
    // A look-alike row as written before skeletons existed (no skeleton).
    let url = format!("sqlite://{}", dir.path().join("cs.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = countersign_store::Store::connect(&countersign_store::StoreConfig {
                url,
                max_connections: 1,
            })
            .await
            .unwrap();
            store
                .execute_raw(&format!(
                    "INSERT INTO api_users (id, organization_id, username, username_lower, \
                     scope_type, expires_at, created_at, created_by) SELECT '{}', organization_id, \
                     'svc-rep\u{043E}rts', 'svc-rep\u{043E}rts', 'organization', 0, 0, 'test' \
                     FROM api_users",
                    uuid::Uuid::now_v7()
                ))
                .await
                .unwrap();
            store.close().await;
        });
    let output = countersign(&dir)
        .args(["--json", "doctor"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let groups = report["name_collisions"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{report}");
    assert_eq!(groups[0]["kind"], "api_user");
    assert_eq!(groups[0]["rows"][0]["name"], "svc-reports");
    assert_eq!(groups[0]["rows"][1]["name"], "svc-rep\u{043E}rts");
}

#[test]
fn server_out_of_file_descriptors_keeps_serving_once_connections_close() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // A tiny descriptor limit for the server alone (the shell sets it, then becomes the server).
    let mut child = Command::new("sh")
        .args([
            "-c",
            "ulimit -n 48 && exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_countersign"),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-max-connections",
            "2",
        ])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "COUNTERSIGN_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("cs.db").display()),
        )
        .env("COUNTERSIGN_ADMIN_PASSWORD", "emfile-test-password")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = std::time::Duration::from_secs(30);
    let wait_for = |needle: &str| {
        let end = std::time::Instant::now() + deadline;
        while let Some(left) = end.checked_duration_since(std::time::Instant::now()) {
            match received.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    };
    assert!(wait_for("countersign listening"));
    // More silent connections than the server has descriptors: it accepts until EMFILE.
    let held: Vec<_> = (0..64)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    assert!(
        wait_for("accept failed"),
        "the server ran out of descriptors"
    );
    drop(held);
    let healthz = || {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        if stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut response = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut response);
        response.starts_with("HTTP/1.1 200")
    };
    let end = std::time::Instant::now() + deadline;
    let mut answered = healthz();
    while !answered && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
        answered = healthz();
    }
    assert!(answered, "the server accepts again once connections close");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_with_only_one_tls_file_names_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let output = countersign(&dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert", "cert.pem"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-key"), "{stderr}");
    assert!(
        !dir.path().join("cs.db").exists(),
        "refused before any database is created"
    );

    let output = countersign(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("COUNTERSIGN_TLS_KEY", "key.pem")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}

#[test]
fn tls_makes_the_default_public_url_https() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run(
        &dir,
        &[
            "init",
            "--listen",
            "127.0.0.1:9443",
            "--tls-cert",
            "cert.pem",
            "--tls-key",
            "key.pem",
        ],
    );
    assert!(
        stdout.contains("https://127.0.0.1:9443/console"),
        "{stdout}"
    );
}

#[test]
fn user_and_api_user_lists_print_every_item_past_the_first_page() {
    let dir = tempfile::tempdir().unwrap();
    run(&dir, &["init"]);
    let url = format!("sqlite://{}", dir.path().join("cs.db").display());
    let emails: Vec<String> = (0..2_500)
        .map(|i| format!("bulk{i:04}@example.com"))
        .collect();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = countersign_store::Store::connect(&countersign_store::StoreConfig {
                url,
                max_connections: 1,
            })
            .await
            .unwrap();
            let organization = store.list_organizations().await.unwrap()[0].id;
            let account = store
                .list::<Account>(organization, None, 1)
                .await
                .unwrap()
                .items[0]
                .id;
            let users: Vec<_> = emails
                .iter()
                .map(|email| {
                    (
                        countersign_core::ids::UserId(uuid::Uuid::now_v7()),
                        email.clone(),
                    )
                })
                .collect();
            store
                .insert_users_bulk(
                    organization,
                    account,
                    &users,
                    time::OffsetDateTime::now_utc(),
                )
                .await
                .unwrap();
            // API users, as rows: issuing 2,500 keys through the server would hash each one.
            let rows: String = (0..2_500)
                .map(|i| {
                    format!(
                        "INSERT INTO api_users (id, organization_id, username, username_lower, \
                         scope_type, expires_at, created_at, created_by) VALUES ('{id}', \
                         '{organization}', 'bulk-{i:04}', 'bulk-{i:04}', 'organization', \
                         4102444800000, 0, 'test');",
                        id = uuid::Uuid::now_v7()
                    )
                })
                .collect();
            store.execute_raw(&rows).await.unwrap();
            store.close().await;
        });
    let listed: Value = serde_json::from_str(&run(&dir, &["--json", "user", "list"])).unwrap();
    let listed: std::collections::BTreeSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["email"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 2_501, "2,500 users and the administrator");
    assert!(emails.iter().all(|email| listed.contains(email.as_str())));
    let table = run(&dir, &["user", "list"]);
    assert_eq!(table.lines().count(), 1 + 2_501, "a header and every user");
    let listed: Value = serde_json::from_str(&run(&dir, &["--json", "api-user", "list"])).unwrap();
    let usernames: std::collections::BTreeSet<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|api_user| api_user["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        usernames.len(),
        2_500,
        "every API user, past the first page"
    );
    assert!((0..2_500).all(|i| usernames.contains(format!("bulk-{i:04}").as_str())));
    let table = run(&dir, &["api-user", "list", "--include-inactive"]);
    assert_eq!(
        table.lines().count(),
        1 + 2_500,
        "a header and every API user"
    );
}

/// A self-signed certificate for 127.0.0.1 and its key, both PEM.
struct SelfSigned {
    cert: String,
    key: String,
}

fn self_signed(name: &str) -> SelfSigned {
    let mut params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    SelfSigned {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

/// Whether a new HTTPS connection that trusts only `pem` reaches `/healthz`.
async fn trusted_by(port: u16, pem: &str) -> bool {
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    client
        .get(format!("https://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// `kill -HUP` on a running `countersign serve` re-reads the certificate and key files: new
/// connections get the new certificate, and the process keeps serving.
#[tokio::test]
async fn sighup_makes_a_running_server_serve_the_renewed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let SelfSigned {
        cert: old_pem,
        key: old_key,
    } = self_signed("before");
    let SelfSigned {
        cert: new_pem,
        key: new_key,
    } = self_signed("after");
    std::fs::write(dir.path().join("cert.pem"), &old_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &old_key).unwrap();
    let mut command = countersign(&dir);
    command
        .args(["--tls-cert", "cert.pem", "--tls-key", "key.pem"])
        .env("COUNTERSIGN_ADMIN_PASSWORD", "sighup-test-password");
    let (mut child, _, port) = serve_until_listening(command);
    assert!(trusted_by(port, &old_pem).await, "the first certificate");
    assert!(!trusted_by(port, &new_pem).await);
    std::fs::write(dir.path().join("cert.pem"), &new_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &new_key).unwrap();
    let hup = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !trusted_by(port, &new_pem).await {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not bring the renewed certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !trusted_by(port, &old_pem).await,
        "the old certificate is gone"
    );
    assert_eq!(
        child.try_wait().unwrap(),
        None,
        "still serving after SIGHUP"
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}
