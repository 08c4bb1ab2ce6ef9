//! Real DocuSign client libraries against the legacy dialect: the official `docusign-esign`
//! Python SDK and `pydocusign`, run from the virtual environment `tests/sdk/setup.sh` makes, and
//! the official Node.js SDK `docusign-esign`, installed by `tests/sdk/node-setup.sh`. Set
//! `COUNTERSIGN_SDK_PYTHON` to that environment's python and `COUNTERSIGN_SDK_NODE` to the
//! directory holding the Node SDK (`.ci/run` does both); without them the tests fail in CI and
//! elsewhere print a SKIPPED line.

use countersign_test_support::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn docusign_python_sdks_log_in_with_the_legacy_header() {
    let Some(python) = std::env::var("COUNTERSIGN_SDK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        countersign_test_support::skip::skip(
            "the Python SDKs: set COUNTERSIGN_SDK_PYTHON to the python of tests/sdk/setup.sh's virtual environment",
        );
        return;
    };
    let app = spawn_app().await;
    let key = "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e";
    assert_eq!(
        app.admin_post(
            "/admin/v1/integrator-keys",
            json!({"name": "SDK", "key": key})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let password = "sdk <password> & \"quotes\"";
    let user = app
        .create_sender("sdk.user@example.com", Some(password))
        .await;
    let account = app.account_id.clone();
    let number = app.account_number(&account).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sdk/legacy_sdk.py");
    let base = app.base.clone();
    let (user_id, account_id) = (user.clone(), account.clone());
    // The server runs on this test's runtime, so the child is awaited from a blocking thread.
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .env_remove("DOCUSIGN_OAUTH2_TOKEN")
            .env("COUNTERSIGN_URL", &base)
            .env("DS_USERNAME", "sdk.user@example.com")
            .env("DS_PASSWORD", password)
            .env("DS_INTEGRATOR_KEY", key)
            .env("DS_EXPECTED_ACCOUNT_NUMBER", &number)
            .env("DS_EXPECTED_ACCOUNT_GUID", &account_id)
            .env("DS_EXPECTED_USER_ID", &user_id)
            .env("DS_EXPECTED_EMAIL", "sdk.user@example.com")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("0 failed"));
}

/// The official Node.js SDK writes header values as ISO-8859-1 (SPEC §5): a password with `ä`
/// and `é` must still authenticate, in both header forms and with Send-On-Behalf-Of.
#[tokio::test]
async fn docusign_node_sdk_logs_in_with_a_non_ascii_password_sent_as_latin1() {
    let Some(modules) = std::env::var("COUNTERSIGN_SDK_NODE")
        .ok()
        .filter(|p| !p.is_empty())
        .map(|dir| std::path::Path::new(&dir).join("node_modules"))
        .filter(|modules| modules.join("docusign-esign").is_dir())
    else {
        countersign_test_support::skip::skip(
            "the Node.js SDK: set COUNTERSIGN_SDK_NODE to the directory tests/sdk/node-setup.sh prints",
        );
        return;
    };
    let app = spawn_app().await;
    let key = "YDMN-7d0c3a52-5b7e-4f65-9a3e-1c2b3d4e5f60";
    assert_eq!(
        app.admin_post(
            "/admin/v1/integrator-keys",
            json!({"name": "Node SDK", "key": key})
        )
        .await
        .status(),
        StatusCode::CREATED
    );
    let password = "pässwörd-é";
    let actor = app
        .create_user("node.user@example.com", Some(password))
        .await;
    let target = app.create_user("on.behalf@example.com", None).await;
    let account = app.account_id.clone();
    app.put_membership(&actor, &account, &["send", "sobo", "account_wide"], true)
        .await;
    app.put_membership(&target, &account, &["send"], true).await;
    let number = app.account_number(&account).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/sdk/legacy_sdk.js");
    let base = app.base.clone();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .env("NODE_PATH", modules)
            .env("COUNTERSIGN_URL", &base)
            .env("DS_USERNAME", "node.user@example.com")
            .env("DS_PASSWORD", password)
            .env("DS_INTEGRATOR_KEY", key)
            .env("DS_EXPECTED_ACCOUNT_NUMBER", &number)
            .env("DS_EXPECTED_ACCOUNT_GUID", &account)
            .env("DS_EXPECTED_USER_ID", &actor)
            .env("DS_SOBO_EMAIL", "on.behalf@example.com")
            .env("DS_SOBO_USER_ID", &target)
            .output()
    })
    .await
    .unwrap();
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            countersign_test_support::skip::skip(&format!("node could not run: {error}"));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "Node SDK checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"));
}
