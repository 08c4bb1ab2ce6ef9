//! The official DocuSign SDKs against the OAuth 2.0 surface (SPEC §12), over TLS served
//! directly (the SDKs only speak `https://{oauth host}`): the Python `docusign-esign`
//! (`tests/sdk/oauth_sdk.py`: `request_jwt_user_token`, `get_user_info`,
//! `request_jwt_application_token`, `get_authorization_uri`, then `generate_access_token` with
//! a code obtained through the sign-in and consent pages) and the Node.js `docusign-esign`
//! (`tests/sdk/oauth_sdk.js`: `requestJWTUserToken`, `getUserInfo`). Set
//! `COUNTERSIGN_SDK_PYTHON` and `COUNTERSIGN_SDK_NODE` as for the legacy SDK tests; without
//! them these tests fail in CI and elsewhere print a SKIPPED line.

use crate::oauth_jwt::{JwtClient, jwt_client};
use countersign_server::tls::TlsFiles;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_tls_app};
use reqwest::StatusCode;
use serde_json::json;
use std::path::Path;

/// A TLS app with a fresh self-signed certificate for 127.0.0.1; returns the app and the
/// directory holding `ca.pem` (the certificate the SDKs are told to trust).
pub async fn tls_app() -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let files = TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&files.cert, cert.pem()).unwrap();
    std::fs::write(&files.key, key.serialize_pem()).unwrap();
    std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
    let app = spawn_tls_app(files, cert.pem().as_bytes()).await;
    (app, dir)
}

fn python() -> Option<String> {
    std::env::var("COUNTERSIGN_SDK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
}

fn node_modules() -> Option<std::path::PathBuf> {
    std::env::var("COUNTERSIGN_SDK_NODE")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|dir| Path::new(&dir).join("node_modules"))
        .filter(|modules| modules.join("docusign-esign").is_dir())
}

/// Runs a command from a blocking thread (the server runs on this test's runtime) and returns
/// its standard output, asserting success and "0 failed".
async fn run(mut command: std::process::Command) -> String {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    stdout
}

fn sdk_env(command: &mut std::process::Command, app: &TestApp, dir: &Path, client: &JwtClient) {
    let key_file = dir.join("private.pem");
    std::fs::write(&key_file, &client.private_pem).unwrap();
    command
        .env("COUNTERSIGN_URL", &app.base)
        .env("COUNTERSIGN_CA", dir.join("ca.pem"))
        .env("DS_INTEGRATOR_KEY", &client.key)
        .env("DS_PRIVATE_KEY_FILE", &key_file)
        .env("DS_USER_ID", &client.user_id)
        .env("DS_EMAIL", "signer@example.com")
        .env("DS_ACCOUNT_GUID", &app.account_id)
        .env("DS_ACCOUNT_NUMBER", &client.account_number);
}

#[tokio::test]
async fn docusign_python_sdk_gets_jwt_tokens_and_user_info_over_tls() {
    let Some(python) = python() else {
        countersign_test_support::skip::skip(
            "the Python SDK: set COUNTERSIGN_SDK_PYTHON to the python of tests/sdk/setup.sh's virtual environment",
        );
        return;
    };
    let (app, dir) = tls_app().await;
    let client = jwt_client(&app).await;
    let redirect_uri = "https://app.example.com/callback";
    let patched = app
        .admin(
            reqwest::Method::PATCH,
            &format!("/admin/v1/integrator-keys/{}", client.key_id),
        )
        .json(&json!({"redirect_uris": [redirect_uri]}))
        .call()
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sdk/oauth_sdk.py");
    let mut command = std::process::Command::new(&python);
    command
        .arg(script)
        .arg("jwt")
        .env("DS_REDIRECT_URI", redirect_uri);
    sdk_env(&mut command, &app, dir.path(), &client);
    let stdout = run(command).await;
    // The authorization URI the SDK built is served: the sign-in hop of the console.
    let uri = stdout
        .lines()
        .find_map(|line| line.strip_prefix("AUTHORIZATION_URI "))
        .unwrap()
        .to_owned();
    // A confidential client (a public one would need PKCE, which this SDK call does not send).
    let secret: serde_json::Value = app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{}/secrets", client.key_id),
            json!({}),
        )
        .await
        .value()
        .await;
    let ca = std::fs::read_to_string(dir.path().join("ca.pem")).unwrap();
    let browser = crate::oauth_code::Browser::new(&app, Some(&ca));
    let page = browser.get(&uri).await;
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "{uri} {:?}",
        page.headers().get("location")
    );

    // The Authorization Code Grant: the user signs in on the page the SDK's URI leads to, the
    // code comes back at the redirect URI, and generate_access_token redeems it.
    let password = app
        .admin(
            reqwest::Method::PUT,
            &format!("/admin/v1/users/{}/password", client.user_id),
        )
        .json(&json!({"password": crate::oauth_code::PASSWORD}))
        .call()
        .await;
    assert_eq!(password.status(), StatusCode::NO_CONTENT);
    let location = browser
        .authorize(&uri, "signer@example.com", "accept")
        .await;
    let answer = crate::oauth_code::parameters(&location, false);
    assert_eq!(answer["state"], "sdk-state-1");
    let mut command = std::process::Command::new(&python);
    command
        .arg(script)
        .arg("code")
        .env("DS_CLIENT_SECRET", secret["secret"].as_str().unwrap())
        .env("DS_CODE", &answer["code"]);
    sdk_env(&mut command, &app, dir.path(), &client);
    run(command).await;
}

#[tokio::test]
async fn docusign_node_sdk_gets_jwt_tokens_and_user_info_over_tls() {
    let Some(modules) = node_modules() else {
        countersign_test_support::skip::skip(
            "the Node.js SDK: set COUNTERSIGN_SDK_NODE to the directory tests/sdk/node-setup.sh prints",
        );
        return;
    };
    let (app, dir) = tls_app().await;
    let client = jwt_client(&app).await;
    let unconsented = app.create_user("nobody@example.com", None).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sdk/oauth_sdk.js");
    let mut command = std::process::Command::new("node");
    command
        .arg(script)
        .env("NODE_PATH", modules)
        .env("NODE_EXTRA_CA_CERTS", dir.path().join("ca.pem"))
        .env("DS_UNCONSENTED_USER_ID", &unconsented);
    sdk_env(&mut command, &app, dir.path(), &client);
    run(command).await;
}
