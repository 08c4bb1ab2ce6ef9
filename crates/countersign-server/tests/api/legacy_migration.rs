//! Moving integrations off the legacy header: usage telemetry, sunset notices and refusals,
//! the organization switch, migration plans and migrations (SPEC §11).

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::CreatedAccount;
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{TestApp, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "service-password-9";

struct World {
    app: TestApp,
    key_id: String,
    key: String,
    service: String,
    alice: String,
    bob: String,
    main: String,
}

/// A service user with SOBO rights in the main account, and Alice and Bob who may send there.
async fn world() -> World {
    let app = spawn_app().await;
    let created = app.create_integrator_key("Acme ERP", None).await;
    let main = app.account_id.clone();
    let service = app
        .create_user("service@acme.example", Some(PASSWORD))
        .await;
    app.put_membership(&service, &main, &["send", "sobo", "account_wide"], true)
        .await;
    let alice = app.create_user("alice@acme.example", None).await;
    app.put_membership(&alice, &main, &["send"], true).await;
    let bob = app.create_user("bob@acme.example", None).await;
    app.put_membership(&bob, &main, &["send"], true).await;
    World {
        key_id: created.id.clone(),
        key: created.key.clone(),
        app,
        service,
        alice,
        bob,
        main,
    }
}

impl World {
    fn header(&self, sobo: Option<&str>) -> String {
        build_header(
            HeaderFormat::Json,
            "service@acme.example",
            PASSWORD,
            &self.key,
            sobo,
        )
    }

    async fn legacy(&self, path: &str, sobo: Option<&str>, user_agent: &str) -> reqwest::Response {
        self.app
            .get(path)
            .header("X-DocuSign-Authentication", self.header(sobo))
            .header("User-Agent", user_agent)
            .call()
            .await
    }

    async fn usage(&self) -> Vec<Value> {
        let body: Value = self
            .app
            .admin_get(&format!(
                "/admin/v1/legacy-usage?integrator_key_id={}",
                self.key_id
            ))
            .await
            .value()
            .await;
        body["items"].as_array().unwrap().clone()
    }

    async fn plan(&self) -> reqwest::Response {
        self.app
            .admin_post(
                &format!("/admin/v1/integrator-keys/{}/migration-plan", self.key_id),
                json!({}),
            )
            .await
    }
}

#[tokio::test]
async fn usage_counts_are_exact_after_concurrent_requests() {
    let w = std::sync::Arc::new(world().await);
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let w = w.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let sobo = if worker % 2 == 0 {
                    None
                } else {
                    Some("alice@acme.example")
                };
                let response = w
                    .legacy("/v1/verify", sobo, &format!("acme-erp/{worker}"))
                    .await;
                assert_eq!(response.status(), StatusCode::OK);
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let usage = w.usage().await;
    assert_eq!(usage.len(), 2);
    let total: i64 = usage.iter().map(|u| u["requests"].as_i64().unwrap()).sum();
    assert_eq!(total, 200);
    let own = usage
        .iter()
        .find(|u| u["on_behalf_of_user_id"].is_null())
        .unwrap();
    let sobo = usage
        .iter()
        .find(|u| u["on_behalf_of_user_id"] == w.alice.as_str())
        .unwrap();
    assert_eq!(own["requests"], 100);
    assert_eq!(sobo["requests"], 100);
    assert_eq!(own["user_id"], w.service.as_str());
    assert_eq!(own["user_email"], "service@acme.example");
    assert_eq!(own["integrator_key_name"], "Acme ERP");
    assert_eq!(own["account_ids"], json!([w.main]));
    assert_eq!(own["source_ips"], json!(["127.0.0.1"]));
    assert_eq!(own["user_agents"].as_array().unwrap().len(), 4);
    let future = (w.app.now() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let since: Value = w
        .app
        .admin(Method::GET, "/admin/v1/legacy-usage")
        .query(&[("since", future)])
        .call()
        .await
        .value()
        .await;
    assert!(since["items"].as_array().unwrap().is_empty());
    let metrics = w.app.get("/metrics").call().await.body().await;
    assert!(
        metrics.contains(&format!(
            "countersign_legacy_header_requests_total{{integrator_key_id=\"{}\"}} 200",
            w.key_id
        )),
        "{metrics}"
    );
    let daily: Value = w
        .app
        .admin_get(&format!(
            "/admin/v1/legacy-usage/daily?integrator_key_id={}",
            w.key_id
        ))
        .await
        .value()
        .await;
    assert_eq!(daily["items"][0]["requests"], 200);
}

#[tokio::test]
async fn usage_counts_survive_graceful_shutdown() {
    let mut w = world().await;
    for _ in 0..7 {
        assert_eq!(
            w.legacy("/v1/whoami", None, "x").await.status(),
            StatusCode::OK
        );
    }
    w.app.shutdown().await;
    let organization =
        countersign_core::ids::OrganizationId::parse(&w.app.organization_id).unwrap();
    let rows = w
        .app
        .store
        .list_legacy_usage(organization, None, None)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.requests).sum::<i64>(), 7);
}

#[tokio::test]
async fn plan_for_one_user_is_a_user_scope_with_full_coverage() {
    let w = world().await;
    assert_eq!(
        w.plan().await.status(),
        StatusCode::CONFLICT,
        "nothing recorded yet"
    );
    for _ in 0..3 {
        w.legacy("/v1/verify", None, "x").await;
    }
    w.legacy("/restapi/v2/login_information", None, "x").await;
    let response = w.plan().await;
    assert_eq!(response.status(), StatusCode::OK);
    let plan: Value = response.value().await;
    assert_eq!(plan["scope"], json!({"type": "user", "user_id": w.service}));
    assert_eq!(
        plan["users"],
        json!([{"id": w.service, "email": "service@acme.example", "requests": 4}])
    );
    assert_eq!(plan["accounts"][0]["id"], w.main.as_str());
    assert_eq!(plan["accounts"][0]["requests"], 3);
    assert_eq!(plan["covered_requests"], 4);
    assert_eq!(plan["total_requests"], 4);
}

#[tokio::test]
async fn plan_for_several_users_in_one_environment_is_an_environment_scope() {
    let w = world().await;
    w.legacy("/v1/verify", Some("alice@acme.example"), "x")
        .await;
    w.legacy("/v1/verify", Some("bob@acme.example"), "x").await;
    w.legacy("/v1/verify", Some("bob@acme.example"), "x").await;
    let plan: Value = w.plan().await.value().await;
    assert_eq!(
        plan["scope"],
        json!({"type": "environment", "environment_id": w.app.environment_id})
    );
    assert_eq!(
        plan["users"][0]["id"],
        w.bob.as_str(),
        "most requests first"
    );
    assert_eq!(plan["covered_requests"], 3);
    assert_eq!(plan["total_requests"], 3);
}

#[tokio::test]
async fn plan_across_environments_is_an_organization_scope_and_migration_covers_every_user() {
    let w = world().await;
    let sandbox = w.app.create_environment("Sandbox", "sandbox").await;
    let CreatedAccount {
        id: sandbox_account,
        number: sandbox_number,
    } = w.app.create_account(&sandbox, "Sandbox").await;
    w.app
        .put_membership(
            &w.service,
            &sandbox_account,
            &["send", "sobo", "account_wide"],
            false,
        )
        .await;
    w.app
        .put_membership(&w.bob, &sandbox_account, &["send"], false)
        .await;
    w.legacy("/v1/verify", Some("alice@acme.example"), "x")
        .await;
    let uri = format!("/restapi/v2/accounts/{sandbox_number}/envelopes");
    let response = w
        .app
        .get("/v1/verify")
        .header(
            "X-DocuSign-Authentication",
            w.header(Some("bob@acme.example")),
        )
        .header("X-Original-URI", uri)
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let plan: Value = w.plan().await.value().await;
    assert_eq!(plan["scope"], json!({"type": "organization"}));
    assert_eq!(plan["covered_requests"], plan["total_requests"]);
    let expires = (w.app.now() + time::Duration::days(90)).date().to_string();
    let response = w
        .app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{}/migrate", w.key_id),
            json!({"username": "acme-erp", "expires_at": expires}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let migrated: Value = response.value().await;
    let key = migrated["key"].as_str().unwrap();
    assert_eq!(
        migrated["api_user"]["scope"],
        json!({"type": "organization"})
    );
    let snippet = migrated["snippet"].as_str().unwrap();
    assert!(snippet.contains("curl") && snippet.contains("import requests"));
    assert!(snippet.contains(&format!("alice@acme.example:{}", w.main)));
    assert!(snippet.contains(&format!("bob@acme.example:{sandbox_account}")));
    for user in ["alice@acme.example", "bob@acme.example"] {
        let token = w.app.token("acme-erp", key, user).await;
        assert_eq!(
            w.app.verify(&token, None).await.status(),
            StatusCode::OK,
            "{user}"
        );
    }
}

#[tokio::test]
async fn migrated_user_scope_admits_only_the_recorded_user() {
    let w = world().await;
    w.legacy("/v1/verify", Some("alice@acme.example"), "x")
        .await;
    let expires = (w.app.now() + time::Duration::days(30)).date().to_string();
    let migrated: Value = w
        .app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{}/migrate", w.key_id),
            json!({"username": "alice-only", "expires_at": expires}),
        )
        .await
        .value()
        .await;
    assert_eq!(
        migrated["api_user"]["scope"],
        json!({"type": "user", "user_id": w.alice})
    );
    let key = migrated["key"].as_str().unwrap();
    assert_eq!(
        w.app
            .exchange("alice-only", key, "alice@acme.example")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        w.app
            .exchange("alice-only", key, "bob@acme.example")
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "nobody outside the plan"
    );
    let taken = w
        .app
        .admin_post(
            &format!("/admin/v1/integrator-keys/{}/migrate", w.key_id),
            json!({"username": "alice-only", "expires_at": expires}),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn dry_run_explains_what_it_would_not_cover() {
    let w = world().await;
    w.legacy("/v1/verify", Some("alice@acme.example"), "x")
        .await;
    w.legacy("/v1/verify", Some("bob@acme.example"), "x").await;
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.bob))
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    let plan: Value = w.plan().await.value().await;
    assert_eq!(plan["total_requests"], 2);
    assert_eq!(plan["covered_requests"], 1);
    assert_eq!(plan["uncovered"][0]["user_id"], w.bob.as_str());
    assert!(
        plan["uncovered"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
}

#[tokio::test]
async fn sunset_is_announced_before_the_date_and_refused_after_it() {
    let w = world().await;
    let sunset = (w.app.now() + time::Duration::days(10))
        .replace_nanosecond(0)
        .unwrap();
    let text = sunset
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let response = w
        .app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{}", w.key_id),
        )
        .json(&json!({"legacy_sunset_at": text}))
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.value().await["legacy_sunset_at"], text.as_str());
    let http_date = httpdate_of(sunset);
    for path in [
        "/v1/verify",
        "/v1/whoami",
        "/restapi/v2.1/login_information",
    ] {
        let response = w.legacy(path, None, "x").await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["sunset"], http_date.as_str(), "{path}");
        let deprecation = response.headers()["deprecation"].to_str().unwrap();
        assert!(
            deprecation.starts_with('@') && deprecation[1..].parse::<i64>().is_ok(),
            "{deprecation}"
        );
        assert_eq!(
            response.headers()["link"],
            format!("<{}/docs/legacy-migration>; rel=\"sunset\"", w.app.base).as_str()
        );
    }
    let page = w.app.get("/docs/legacy-migration").call().await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.body().await.contains("authentication/apiUser"));
    let bearer = w
        .app
        .create_api_user("still-works", json!({"type": "organization"}))
        .await;
    let token = w
        .app
        .token("still-works", &bearer.key, "alice@acme.example")
        .await;
    assert!(
        !w.app
            .verify(&token, None)
            .await
            .headers()
            .contains_key("sunset"),
        "tokens carry no sunset notice"
    );
    w.app.advance(time::Duration::days(11));
    let response = w.legacy("/v1/verify", None, "x").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.value().await;
    assert_eq!(body["errorCode"], "PARTNER_AUTHENTICATION_FAILED");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains(&text) && message.contains("apiUser"),
        "{message}"
    );
}

#[tokio::test]
async fn clearing_the_sunset_removes_the_notice() {
    let w = world().await;
    let at = (w.app.now() + time::Duration::days(3))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    w.app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{}", w.key_id),
        )
        .json(&json!({"legacy_sunset_at": at}))
        .call()
        .await;
    let response = w
        .app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{}", w.key_id),
        )
        .json(&json!({"legacy_sunset_at": null}))
        .call()
        .await;
    assert_eq!(response.value().await["legacy_sunset_at"], Value::Null);
    assert!(
        !w.legacy("/v1/verify", None, "x")
            .await
            .headers()
            .contains_key("sunset")
    );
    let missing = w
        .app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/integrator-keys/{}", w.key_id),
        )
        .json(&json!({}))
        .call()
        .await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn organization_switch_turns_the_legacy_header_off_at_once() {
    let w = world().await;
    assert_eq!(
        w.legacy("/v1/verify", None, "x").await.status(),
        StatusCode::OK
    );
    let response = w
        .app
        .admin(Method::PATCH, "/admin/v1/organization")
        .json(&json!({"legacy_header_enabled": false}))
        .call()
        .await;
    assert_eq!(response.value().await["legacy_header_enabled"], false);
    let response = w.legacy("/restapi/v2/login_information", None, "x").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.value().await["errorCode"],
        "PARTNER_AUTHENTICATION_FAILED"
    );
    w.app
        .admin(Method::PATCH, "/admin/v1/organization")
        .json(&json!({"legacy_header_enabled": true}))
        .call()
        .await;
    assert_eq!(
        w.legacy("/v1/verify", None, "x").await.status(),
        StatusCode::OK
    );
    let audit = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=organization.legacy_header_disable")
                .await
                .value()
                .await;
            !body["items"].as_array().unwrap().is_empty()
        })
        .await;
    assert!(audit, "the switch is audited");
}

#[tokio::test]
async fn telemetry_metrics_and_audit_hold_no_secret() {
    let w = world().await;
    w.legacy("/v1/verify", Some("alice@acme.example"), "x")
        .await;
    w.legacy("/restapi/v2/login_information", None, "x").await;
    let usage = serde_json::to_string(&w.usage().await).unwrap();
    let metrics = w.app.get("/metrics").call().await.body().await;
    let audit = w
        .app
        .admin_get("/admin/v1/audit?limit=1000")
        .await
        .body()
        .await;
    for text in [&usage, &metrics, &audit] {
        assert!(!text.contains(PASSWORD));
        assert!(!text.contains("X-DocuSign-Authentication") && !text.contains("\"Password\""));
    }
}

fn httpdate_of(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap()
}

#[tokio::test]
async fn usage_is_not_recorded_when_turned_off() {
    let app = countersign_test_support::spawn_app_with(|c| c.legacy_usage_enabled = false).await;
    let created = app.create_integrator_key("quiet", None).await;
    app.create_sender("quiet@acme.example", Some(PASSWORD))
        .await;
    let header = build_header(
        HeaderFormat::Json,
        "quiet@acme.example",
        PASSWORD,
        created.key.as_str(),
        None,
    );
    let response = app.verify_legacy(header).await;
    assert_eq!(response.status(), StatusCode::OK);
    let usage: Value = app.admin_get("/admin/v1/legacy-usage").await.value().await;
    assert!(usage["items"].as_array().unwrap().is_empty());
}
