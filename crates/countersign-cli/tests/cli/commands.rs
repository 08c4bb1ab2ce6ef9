//! init, the directory commands with JSON output, header, token, serve and a revocation reaching a
//! running server.

use super::*;

#[test]
fn init_honours_admin_email_and_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = countersign(&dir)
        .args(["init"])
        .env("COUNTERSIGN_ADMIN_EMAIL", "root@example.com")
        .env("COUNTERSIGN_ADMIN_PASSWORD", "a-strong-password")
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("root@example.com"));
    assert!(
        !stdout.contains("a-strong-password"),
        "a supplied password is not echoed"
    );
    let again = run(&dir, &["init"]);
    assert!(again.contains("nothing to do"));
}

#[test]
fn init_generates_and_prints_a_password_once() {
    let dir = tempfile::tempdir().unwrap();
    let stdout = run(&dir, &["init"]);
    assert!(stdout.contains("password (shown once)"), "{stdout}");
}

#[test]
fn directory_commands_work_on_the_database_with_json_output() {
    let dir = tempfile::tempdir().unwrap();
    run(&dir, &["init"]);
    let envs: Value = serde_json::from_str(&run(&dir, &["env", "list", "--json"])).unwrap();
    let env = envs[0]["id"].as_str().unwrap().to_owned();
    let account: Value = serde_json::from_str(&run(
        &dir,
        &[
            "account", "create", "--env", &env, "--name", "Second", "--json",
        ],
    ))
    .unwrap();
    assert!(
        account["number"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_digit())
    );
    let user: Value = serde_json::from_str(&run(
        &dir,
        &["user", "create", "--email", "bob@example.com", "--json"],
    ))
    .unwrap();
    let user_id = user["id"].as_str().unwrap().to_owned();
    run(
        &dir,
        &[
            "user",
            "membership",
            "--user",
            &user_id,
            "--account",
            account["id"].as_str().unwrap(),
            "--permissions",
            "send,sobo",
            "--default",
        ],
    );
    let too_far = countersign(&dir)
        .args([
            "api-user",
            "create",
            "--username",
            "cli-bot",
            "--scope",
            &format!("user:{user_id}"),
            "--expires-at",
            "2099-01-01",
        ])
        .output()
        .unwrap();
    assert!(
        !too_far.status.success(),
        "2099 is beyond the two-year maximum"
    );
    assert!(String::from_utf8_lossy(&too_far.stderr).contains("expires_at"));
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(30))
        .date()
        .to_string();
    let created: Value = serde_json::from_str(&run(
        &dir,
        &[
            "api-user",
            "create",
            "--username",
            "cli-bot",
            "--scope",
            &format!("user:{user_id}"),
            "--expires-at",
            &expires,
            "--json",
        ],
    ))
    .unwrap();
    assert!(created["key"].as_str().unwrap().starts_with("csk_"));
    let table = run(&dir, &["api-user", "list"]);
    assert!(table.contains("cli-bot") && table.contains("USERNAME"));
    assert!(!table.contains(created["key"].as_str().unwrap()));
    let id = created["api_user"]["id"].as_str().unwrap();
    run(&dir, &["api-user", "revoke", "--id", id]);
    assert!(!run(&dir, &["api-user", "list"]).contains("cli-bot"));
    assert!(run(&dir, &["api-user", "list", "--include-inactive"]).contains("revoked"));
    let audit = run(&dir, &["audit", "list", "--action", "api_user.revoke"]);
    assert!(audit.contains("cli"), "{audit}");
}

#[test]
fn header_prints_an_escaped_value() {
    let dir = tempfile::tempdir().unwrap();
    let xml = run(
        &dir,
        &[
            "header",
            "--format",
            "xml",
            "--username",
            "bob@example.com",
            "--password",
            "a<b&c\"d\\e",
            "--integrator-key",
            "KEY",
        ],
    );
    assert_eq!(
        xml.trim_end(),
        "<DocuSignCredentials><Username>bob@example.com</Username><Password>a&lt;b&amp;c&quot;d\\e</Password><IntegratorKey>KEY</IntegratorKey></DocuSignCredentials>"
    );
    let json = run(
        &dir,
        &[
            "header",
            "--format",
            "json",
            "--username",
            "u",
            "--password",
            "p\"\\",
            "--integrator-key",
            "K",
            "--send-on-behalf-of",
            "s",
        ],
    );
    let value: Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(value["Password"], "p\"\\");
    assert_eq!(value["SendOnBehalfOf"], "s");
}

#[test]
fn serve_bootstraps_answers_and_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = countersign(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("COUNTERSIGN_ADMIN_PASSWORD", "serve-test-password")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut listening = false;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("countersign listening") {
            listening = true;
            break;
        }
    }
    assert!(listening);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

/// `init` in `dir`, then an organization-scoped API user `username` expiring in three days:
/// the bootstrap administrator's email and the `api-user create --json` answer.
fn installation_with_api_user(dir: &tempfile::TempDir, username: &str) -> (String, Value) {
    run(dir, &["init"]);
    let users: Value = serde_json::from_str(&run(dir, &["user", "list", "--json"])).unwrap();
    let admin_email = users[0]["email"].as_str().unwrap().to_owned();
    let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(3))
        .date()
        .to_string();
    let created = run(
        dir,
        &[
            "api-user",
            "create",
            "--username",
            username,
            "--scope",
            "organization",
            "--expires-at",
            &expires,
            "--json",
        ],
    );
    (admin_email, serde_json::from_str(&created).unwrap())
}

#[test]
fn token_command_exchanges_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let (admin_email, created) = installation_with_api_user(&dir, "tok");
    let key = created["key"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = countersign(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines() {
        if line.unwrap().contains("countersign listening") {
            break;
        }
    }
    let mut token = countersign(&dir)
        .args([
            "token",
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "--api-username",
            "tok",
            "--key-stdin",
            "--context-username",
            &admin_email,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    token
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{key}\n").as_bytes())
        .unwrap();
    let output = token.wait_with_output().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(output.status.success());
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .starts_with("cst_")
    );
}

#[test]
fn cli_revocation_reaches_a_running_server_on_the_same_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let (admin_email, created) = installation_with_api_user(&dir, "live");
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["api_user"]["id"].as_str().unwrap().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = countersign(&dir)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("countersign listening") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let http = |request: String| {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
        response
    };
    let body = format!(
        r#"{{"request":{{"apiUsername":"live","key":"{key}","contextUsername":"{admin_email}"}}}}"#
    );
    let response = http(format!(
        "POST /api/v3.5/authentication/apiUser HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    let token = response
        .split("\"token\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let verify = || {
        http(format!(
            "GET /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: bearer {token}\r\nConnection: close\r\n\r\n"
        ))
    };
    assert!(verify().starts_with("HTTP/1.1 200"));
    run(&dir, &["api-user", "revoke", "--id", &id]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut refused = false;
    while std::time::Instant::now() < deadline {
        if verify().starts_with("HTTP/1.1 401") {
            refused = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        refused,
        "the running server saw the CLI's revocation through the directory version"
    );
}
