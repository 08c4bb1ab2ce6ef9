//! Real DocuSign client libraries against the legacy dialect: the official `docusign-esign`
//! Python SDK and `pydocusign`, run from the virtual environment `tests/sdk/setup.sh` makes.
//! Set `COUNTERSIGN_SDK_PYTHON` to that environment's python (`.ci/run` does); without it the
//! test fails in CI and elsewhere prints a SKIPPED line.

use countersign_test_support::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};

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
        .create_user("sdk.user@example.com", Some(password))
        .await;
    let account = app.account_id.clone();
    app.put_membership(&user, &account, &["send"], true).await;
    let number = app
        .admin_get(&format!("/admin/v1/accounts/{account}"))
        .await
        .json::<Value>()
        .await
        .unwrap()["number"]
        .as_str()
        .unwrap()
        .to_owned();
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
