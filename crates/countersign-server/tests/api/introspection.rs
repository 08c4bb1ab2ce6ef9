//! RFC 7662 introspection by registered clients (SPEC §6.3): the admin resource that registers
//! them, `client_secret_basic` and `client_secret_post`, and every way a client is refused.

use base64::Engine;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{CreatedApiUser, CreatedIntrospectionClient};
use countersign_test_support::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// An app where Bob holds a token of the `Introspected` API user.
struct World {
    app: TestApp,
    bob: String,
    token: String,
}

async fn world() -> World {
    let app = spawn_app().await;
    let bob = app.create_sender("bob@mycompany.com", None).await;
    let CreatedApiUser { key, .. } = app
        .create_api_user("Introspected", json!({"type": "organization"}))
        .await;
    let token = app.token("Introspected", &key, "bob@mycompany.com").await;
    World { app, bob, token }
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 builds it (form-urlencoded parts).
fn basic(client_id: &str, secret: &str) -> String {
    use countersign_core::form::encode;
    let pair = format!("{}:{}", encode(client_id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

async fn introspect_basic(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    token: &str,
) -> reqwest::Response {
    app.post("/v1/introspect")
        .header("Authorization", basic(client_id, secret))
        .form(&[("token", token)])
        .call()
        .await
}

async fn introspect_post(
    app: &TestApp,
    client_id: &str,
    secret: &str,
    token: &str,
) -> reqwest::Response {
    app.post("/v1/introspect")
        .form(&[
            ("token", token),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .call()
        .await
}

/// Asserts a 401 `invalid_client` with a Basic challenge.
async fn assert_invalid_client(response: reqwest::Response, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("Basic"), "{case}: {challenge}");
    let body: Value = response.value().await;
    assert_eq!(body["error"], "invalid_client", "{case}");
}

fn assert_describes_bobs_token(w: &World, body: &Value) {
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], w.bob.as_str());
    assert_eq!(body["username"], "bob@mycompany.com");
    assert_eq!(body["client_id"], "Introspected");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["act"], json!({"sub": "Introspected"}));
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());
}

#[tokio::test]
async fn registered_client_introspects_with_client_secret_basic() {
    let w = world().await;
    let CreatedIntrospectionClient {
        client_id, secret, ..
    } = w.app.create_introspection_client("Envelope service").await;
    let response = introspect_basic(&w.app, &client_id, &secret, &w.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.value().await;
    assert_describes_bobs_token(&w, &body);
    let inactive: Value = introspect_basic(&w.app, &client_id, &secret, "cst_garbage")
        .await
        .value()
        .await;
    assert_eq!(inactive, json!({"active": false}));
}

/// The form is an authentication body: bounded at 64 KiB like the others.
#[tokio::test]
async fn an_introspection_body_past_64_kib_is_refused() {
    let w = world().await;
    let CreatedIntrospectionClient {
        client_id, secret, ..
    } = w.app.create_introspection_client("Envelope service").await;
    let padded = format!("{}&pad={}", w.token, "x".repeat(70 * 1024));
    let response = introspect_basic(&w.app, &client_id, &secret, &padded).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let within = introspect_basic(&w.app, &client_id, &secret, &w.token).await;
    assert_eq!(within.status(), StatusCode::OK);
}

#[tokio::test]
async fn registered_client_introspects_with_client_secret_post() {
    let w = world().await;
    let CreatedIntrospectionClient {
        client_id, secret, ..
    } = w.app.create_introspection_client("Envelope service").await;
    let response = introspect_post(&w.app, &client_id, &secret, &w.token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    assert_describes_bobs_token(&w, &body);
}

#[tokio::test]
async fn wrong_secret_unknown_client_and_no_credentials_are_invalid_client() {
    let w = world().await;
    let CreatedIntrospectionClient {
        client_id, secret, ..
    } = w.app.create_introspection_client("Envelope service").await;
    let CreatedIntrospectionClient {
        client_id: other_id,
        secret: other_secret,
        ..
    } = w.app.create_introspection_client("Other service").await;
    // The secret with its last character changed (to one it is not).
    let mut wrong = secret.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'x' { 'y' } else { 'x' });
    for (case, response) in [
        (
            "wrong secret, basic",
            introspect_basic(&w.app, &client_id, &wrong, &w.token).await,
        ),
        (
            "wrong secret, post",
            introspect_post(&w.app, &client_id, &wrong, &w.token).await,
        ),
        (
            "another client's secret",
            introspect_basic(&w.app, &client_id, &other_secret, &w.token).await,
        ),
        (
            "unknown client",
            introspect_basic(&w.app, "csic_unknown", &secret, &w.token).await,
        ),
        (
            "unknown client, post",
            introspect_post(&w.app, "csic_unknown", &secret, &w.token).await,
        ),
        (
            "client id as secret",
            introspect_basic(&w.app, &other_id, &other_id, &w.token).await,
        ),
    ] {
        assert_invalid_client(response, case).await;
    }
    let anonymous = w
        .app
        .post("/v1/introspect")
        .form(&[("token", w.token.as_str())])
        .call()
        .await;
    assert_invalid_client(anonymous, "no credentials").await;
    let malformed = w
        .app
        .post("/v1/introspect")
        .header("Authorization", "Basic not*base64")
        .form(&[("token", w.token.as_str())])
        .call()
        .await;
    assert_invalid_client(malformed, "unreadable Basic value").await;
    let only_id = w
        .app
        .post("/v1/introspect")
        .form(&[
            ("token", w.token.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .call()
        .await;
    assert_invalid_client(only_id, "client id without secret").await;
    let bad_admin = w
        .app
        .post("/v1/introspect")
        .bearer_auth("csa_not-a-session")
        .form(&[("token", w.token.as_str())])
        .call()
        .await;
    assert_invalid_client(bad_admin, "unknown admin token").await;
}

#[tokio::test]
async fn deleted_client_is_refused_at_once() {
    let w = world().await;
    let CreatedIntrospectionClient {
        id,
        client_id,
        secret,
    } = w.app.create_introspection_client("Envelope service").await;
    assert_eq!(
        introspect_basic(&w.app, &client_id, &secret, &w.token)
            .await
            .status(),
        StatusCode::OK
    );
    let deleted = w
        .app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/introspection-clients/{id}"),
        )
        .call()
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_invalid_client(
        introspect_basic(&w.app, &client_id, &secret, &w.token).await,
        "deleted client, basic",
    )
    .await;
    assert_invalid_client(
        introspect_post(&w.app, &client_id, &secret, &w.token).await,
        "deleted client, post",
    )
    .await;
}

#[tokio::test]
async fn client_of_another_organization_sees_this_organizations_tokens_inactive() {
    let w = world().await;
    let other = w.app.second_organization("Other").await;
    let (client, secret) = w
        .app
        .with_ops(&other, |ops, actor| async move {
            ops.create_introspection_client(&actor, "Other organization's service")
                .await
                .unwrap()
        })
        .await;
    let body: Value = introspect_basic(&w.app, &client.client_id, secret.expose(), &w.token)
        .await
        .value()
        .await;
    assert_eq!(body, json!({"active": false}));
}

#[tokio::test]
async fn requests_that_cannot_be_read_are_invalid_requests_once_the_client_is_known() {
    let w = world().await;
    let CreatedIntrospectionClient {
        client_id, secret, ..
    } = w.app.create_introspection_client("Envelope service").await;
    let no_token = w
        .app
        .post("/v1/introspect")
        .header("Authorization", basic(&client_id, &secret))
        .form(&[("token_type_hint", "access_token")])
        .call()
        .await;
    assert_eq!(no_token.status(), StatusCode::BAD_REQUEST);
    let body: Value = no_token.value().await;
    assert_eq!(body["error"], "invalid_request");
    let two_methods = w
        .app
        .post("/v1/introspect")
        .header("Authorization", basic(&client_id, &secret))
        .form(&[
            ("token", w.token.as_str()),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .call()
        .await;
    assert_eq!(two_methods.status(), StatusCode::BAD_REQUEST);
    for body in [
        format!("token={}&token=cst_other", w.token),
        format!("token={}%FF", w.token),
        format!("token={}&&token_type_hint=access_token", w.token),
    ] {
        let unreadable = w
            .app
            .post("/v1/introspect")
            .header("Authorization", basic(&client_id, &secret))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .call()
            .await;
        assert_eq!(unreadable.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            unreadable.value().await["error"],
            "invalid_request",
            "{body}"
        );
    }
    let another_id = w
        .app
        .post("/v1/introspect")
        .header("Authorization", basic(&client_id, &secret))
        .form(&[
            ("token", w.token.as_str()),
            ("client_id", "csic_someone_else"),
        ])
        .call()
        .await;
    assert_invalid_client(another_id, "Basic for one client, form naming another").await;
}

#[tokio::test]
async fn organization_administrator_token_still_introspects_and_others_are_denied() {
    let w = world().await;
    let response = w
        .app
        .admin(Method::POST, "/v1/introspect")
        .form(&[("token", w.token.as_str())])
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_describes_bobs_token(&w, &response.value().await);
    w.app
        .create_user("carol@mycompany.com", Some("carol's password"))
        .await;
    let carol = w
        .app
        .login("carol@mycompany.com", "carol's password")
        .await
        .unwrap();
    let denied = w
        .app
        .post("/v1/introspect")
        .bearer_auth(carol)
        .form(&[("token", w.token.as_str())])
        .call()
        .await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn administrators_register_list_get_and_delete_clients_and_the_secret_is_shown_once() {
    let app = spawn_app().await;
    let response = app
        .admin_post(
            "/admin/v1/introspection-clients",
            json!({"name": "Envelope service"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.value().await;
    let id = created["id"].as_str().unwrap().to_owned();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert!(client_id.starts_with("csic_"), "{client_id}");
    assert!(
        secret.starts_with("csis_") && secret.len() == 48,
        "{}",
        secret.len()
    );
    assert_eq!(created["name"], "Envelope service");
    let CreatedIntrospectionClient {
        client_id: second_id,
        secret: second_secret,
        ..
    } = app.create_introspection_client("Second").await;
    assert_ne!(second_id, client_id);
    assert_ne!(second_secret, secret);

    let list: Value = app
        .admin_get("/admin/v1/introspection-clients")
        .await
        .value()
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["client_id"], client_id.as_str());
    assert_eq!(
        items[0]["created_by"],
        countersign_test_support::ADMIN_EMAIL
    );
    let one = app
        .admin_get(&format!("/admin/v1/introspection-clients/{id}"))
        .await;
    assert_eq!(one.status(), StatusCode::OK);
    let one_text = one.body().await;
    let list_text = list.to_string();
    for text in [&one_text, &list_text] {
        assert!(!text.contains(&secret), "the secret is shown only once");
        assert!(!text.contains("client_secret") && !text.contains("digest"));
    }
    let (stored, digest) = app
        .store
        .find_introspection_client_by_client_id(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id.to_string(), id);
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!digest.contains(&secret[5..]));

    let delete = |path: String| app.admin(Method::DELETE, &path).send();
    let path = format!("/admin/v1/introspection-clients/{id}");
    assert_eq!(
        delete(path.clone()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete(path.clone()).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.admin_get(&path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.admin_get("/admin/v1/introspection-clients/not-a-uuid")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let invalid = app
        .admin_post("/admin/v1/introspection-clients", json!({"name": " "}))
        .await;
    assert_eq!(invalid.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let audit: Value = app.admin_get("/admin/v1/audit").await.value().await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"introspection_client.create"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"introspection_client.delete"),
        "{actions:?}"
    );
    assert!(!audit.to_string().contains(&secret));
}

#[tokio::test]
async fn only_organization_administrators_manage_introspection_clients() {
    let app = spawn_app().await;
    app.create_user("carol@mycompany.com", Some("carol's password"))
        .await;
    let carol = app
        .login("carol@mycompany.com", "carol's password")
        .await
        .unwrap();
    let CreatedIntrospectionClient { id, .. } =
        app.create_introspection_client("Envelope service").await;
    for (method, path) in [
        (Method::GET, "/admin/v1/introspection-clients".to_owned()),
        (Method::POST, "/admin/v1/introspection-clients".to_owned()),
        (Method::GET, format!("/admin/v1/introspection-clients/{id}")),
        (
            Method::DELETE,
            format!("/admin/v1/introspection-clients/{id}"),
        ),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&carol)
            .json(&json!({"name": "x"}))
            .call()
            .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
        let anonymous = app
            .client
            .request(method.clone(), app.url(&path))
            .json(&json!({"name": "x"}))
            .call()
            .await;
        assert_eq!(
            anonymous.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
}

/// Authlib, an off-the-shelf OAuth 2.0 library, introspects with both client authentication
/// methods and refuses what countersign refuses (`tests/sdk/introspection.py`).
#[tokio::test]
async fn authlib_introspects_with_client_secret_basic_and_post() {
    let Some(python) = std::env::var("COUNTERSIGN_SDK_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
    else {
        countersign_test_support::skip::skip(
            "Authlib: set COUNTERSIGN_SDK_PYTHON to the python of tests/sdk/setup.sh's virtual environment",
        );
        return;
    };
    let w = world().await;
    let CreatedIntrospectionClient {
        client_id, secret, ..
    } = w.app.create_introspection_client("Authlib").await;
    let CreatedIntrospectionClient {
        id: deleted,
        client_id: deleted_id,
        secret: deleted_secret,
    } = w.app.create_introspection_client("Deleted").await;
    assert_eq!(
        w.app
            .admin(
                Method::DELETE,
                &format!("/admin/v1/introspection-clients/{deleted}")
            )
            .call()
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/sdk/introspection.py"
    );
    let mut command = std::process::Command::new(python);
    command
        .arg(script)
        .env_remove("AUTHLIB_INSECURE_TRANSPORT")
        .env("COUNTERSIGN_URL", &w.app.base)
        .env("CLIENT_ID", &client_id)
        .env("CLIENT_SECRET", &secret)
        .env("DELETED_CLIENT_ID", &deleted_id)
        .env("DELETED_CLIENT_SECRET", &deleted_secret)
        .env("TOKEN", &w.token)
        .env("EXPECTED_SUB", &w.bob)
        .env("EXPECTED_USERNAME", "bob@mycompany.com")
        .env("EXPECTED_CLIENT_ID", "Introspected");
    // The server runs on this test's runtime, so the child is awaited from a blocking thread.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap();
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            countersign_test_support::skip::skip(&format!(
                "the virtual environment's python could not run: {error}"
            ));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}{stderr}");
    if stderr.contains("No module named 'authlib'") {
        countersign_test_support::skip::skip(
            "Authlib is not in the virtual environment: re-run tests/sdk/setup.sh",
        );
        return;
    }
    assert!(
        output.status.success(),
        "Authlib checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains(" passed, 0 failed"));
}
