//! The directory pages over plain HTTP: environments and their administrators, accounts, users
//! with status, password and memberships, integrator keys with the legacy sunset, and the audit
//! page's filters and paging.

use crate::support::{ConsoleClient, csrf_token, date_in, location, value_of_id};
use countersign_core::directory::Permissions;
use countersign_core::ids::UserId;
use countersign_test_support::Read as _;
use countersign_test_support::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn environment_created_in_the_console_needs_every_admin_added() {
    let app = spawn_app().await;
    let carol = app
        .create_user("carol@example.com", Some("carol password"))
        .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/environments").await;
    let response = console
        .post(
            "/console/environments",
            &[
                ("csrf_token", &csrf),
                ("name", "Sandbox"),
                ("kind", "sandbox"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let environments: Value = app.admin_get("/admin/v1/environments").await.value().await;
    let sandbox = environments["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Sandbox")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Carol administers production only: not yet an organization administrator.
    let response = console
        .post(
            &format!("/console/environments/{}/admins", app.environment_id),
            &[("csrf_token", &csrf), ("user_id", &carol)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let carols = ConsoleClient::new(&app);
    carols
        .sign_in_as("carol@example.com", "carol password")
        .await;
    assert_eq!(
        carols.get("/console/api-users").await.status(),
        StatusCode::FORBIDDEN
    );
    let response = console
        .post(
            &format!("/console/environments/{sandbox}/admins"),
            &[("csrf_token", &csrf), ("user_id", &carol)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        carols.get("/console/api-users").await.status(),
        StatusCode::OK
    );
    let page = console.page("/console/environments").await;
    assert!(page.contains("Sandbox"));
    assert!(page.contains("carol@example.com"));
    // Removing her again takes her console away on the next request.
    let response = console
        .post(
            &format!("/console/environments/{sandbox}/admins/{carol}/remove"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        carols.get("/console/api-users").await.status(),
        StatusCode::FORBIDDEN
    );
    // A bad name is shown next to the field.
    let response = console
        .post(
            "/console/environments",
            &[("csrf_token", &csrf), ("name", ""), ("kind", "sandbox")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.body().await.contains("id=\"name-error\""));
}

#[tokio::test]
async fn accounts_page_creates_accounts_and_shows_the_context_identifier() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/accounts").await;
    let response = console
        .post(
            "/console/accounts",
            &[
                ("csrf_token", &csrf),
                ("environment_id", &app.environment_id),
                ("name", "Second account"),
            ],
        )
        .await;
    assert_eq!(location(&response), "/console/accounts?done=created");
    let accounts: Value = app.admin_get("/admin/v1/accounts").await.value().await;
    let second = accounts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "Second account")
        .unwrap()
        .clone();
    let page = console.page("/console/accounts").await;
    let id = second["id"].as_str().unwrap();
    assert!(page.contains(&format!("id=\"context-{id}\">{id}</code>")));
    assert!(page.contains(&format!("data-copy=\"context-{id}\"")));
    assert!(page.contains(second["number"].as_str().unwrap()));
}

#[tokio::test]
async fn users_page_creates_users_and_manages_status_password_and_memberships() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/users").await;
    let response = console
        .post(
            "/console/users",
            &[
                ("csrf_token", &csrf),
                ("email", "dave@example.com"),
                ("name", "Dave"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let target = location(&response);
    let dave = target
        .strip_prefix("/console/users/")
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let user_id = UserId::parse(&dave).unwrap();
    // Membership with permission checkboxes and the default flag.
    let account = &app.account_id;
    let response = console
        .post(
            &format!("/console/users/{dave}/memberships/{account}"),
            &[
                ("csrf_token", &csrf),
                ("permission", "send"),
                ("permission", "sobo"),
                ("permission", "account_wide"),
                ("is_default", "true"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let memberships = app.store.list_memberships(user_id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert!(memberships[0].is_default);
    assert_eq!(
        memberships[0].permissions,
        Permissions::SEND
            .with(Permissions::SOBO)
            .with(Permissions::ACCOUNT_WIDE)
    );
    let page = console.page(&format!("/console/users/{dave}")).await;
    assert!(page.contains(&format!(
        "id=\"m-{account}-sobo\" type=\"checkbox\" name=\"permission\" value=\"sobo\" checked"
    )));
    assert!(!page.contains(&format!(
        "id=\"m-{account}-admin\" type=\"checkbox\" name=\"permission\" value=\"admin\" checked"
    )));
    // A duplicate email is shown next to the field, the rest kept.
    let response = console
        .post(
            "/console/users",
            &[
                ("csrf_token", &csrf),
                ("email", "DAVE@example.com"),
                ("name", "Another Dave"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.body().await;
    assert!(body.contains("id=\"email-error\""));
    assert!(body.contains("value=\"Another Dave\""));
    // Password: too short is refused next to the field; then set, and Dave can sign in.
    let response = console
        .post(
            &format!("/console/users/{dave}/password"),
            &[("csrf_token", &csrf), ("password", "short")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = response.body().await;
    assert!(body.contains("id=\"password-error\""));
    assert!(
        !body.contains("value=\"short\""),
        "passwords are never echoed"
    );
    let response = console
        .post(
            &format!("/console/users/{dave}/password"),
            &[("csrf_token", &csrf), ("password", "dave's new password")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        app.login("dave@example.com", "dave's new password")
            .await
            .is_some()
    );
    // Disable, then enable.
    let response = console
        .post(
            &format!("/console/users/{dave}/status"),
            &[("csrf_token", &csrf), ("status", "disabled")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        app.login("dave@example.com", "dave's new password")
            .await
            .is_none()
    );
    console
        .post(
            &format!("/console/users/{dave}/status"),
            &[("csrf_token", &csrf), ("status", "active")],
        )
        .await;
    assert!(
        app.login("dave@example.com", "dave's new password")
            .await
            .is_some()
    );
    // Remove the membership.
    let response = console
        .post(
            &format!("/console/users/{dave}/memberships/{account}/remove"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store
            .list_memberships(user_id)
            .await
            .unwrap()
            .is_empty()
    );
    // The users list shows Dave.
    let list = console.page("/console/users").await;
    assert!(list.contains("dave@example.com"));
}

/// The users list shows each user's own accounts (read for the whole organization at once), and
/// nothing of another organization's users.
#[tokio::test]
async fn users_list_shows_each_users_accounts_and_none_of_another_organization() {
    let app = spawn_app().await;
    let second = app.create_account(&app.environment_id, "Second desk").await;
    let erin = app.create_sender("erin@example.com", None).await;
    app.put_membership(&erin, &second.id, &["send"], false)
        .await;
    app.create_user("frank@example.com", None).await;
    let other = app.second_organization("Elsewhere").await;
    app.with_ops(&other, |ops, actor| async move {
        let environment = ops
            .create_environment(
                &actor,
                "Theirs",
                countersign_core::directory::EnvironmentKind::Production,
            )
            .await
            .unwrap();
        let account = ops
            .create_account(&actor, environment.id, "Their desk")
            .await
            .unwrap();
        let user = ops
            .create_user(&actor, "gina@example.com", "Gina", None)
            .await
            .unwrap();
        ops.put_membership(&actor, user.id, account.id, Permissions::from_bits(1), true)
            .await
            .unwrap();
    })
    .await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let list = console.page("/console/users").await;
    let row = |email: &str| {
        let start = list.find(email).unwrap_or_else(|| panic!("{email} listed"));
        list[start..].split("</tr>").next().unwrap().to_owned()
    };
    let erin_row = row("erin@example.com");
    assert!(
        erin_row.contains("(default)") && erin_row.contains("Second desk"),
        "{erin_row}"
    );
    assert!(row("frank@example.com").contains("None"));
    assert!(!list.contains("gina@example.com") && !list.contains("Their desk"));
}

#[tokio::test]
async fn administrator_cannot_disable_themselves() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/users").await;
    let response = console
        .post(
            &format!("/console/users/{}/status", app.admin_user_id),
            &[("csrf_token", &csrf), ("status", "disabled")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        console.get("/console/api-users").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn integrator_keys_are_created_imported_sunset_and_revoked() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let csrf = console.csrf("/console/integrator-keys").await;
    let imported = "YDMN-339fa93c-fcf0-4390-8141-2e0f071ffa2e";
    let response = console
        .post(
            "/console/integrator-keys",
            &[
                ("csrf_token", &csrf),
                ("name", "Acme ERP"),
                ("key", imported),
            ],
        )
        .await;
    assert_eq!(location(&response), "/console/integrator-keys?done=created");
    let response = console
        .post(
            "/console/integrator-keys",
            &[
                ("csrf_token", &csrf),
                ("name", "Acme again"),
                ("key", imported),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.body().await.contains("id=\"key-error\""));
    let keys: Value = app
        .admin_get("/admin/v1/integrator-keys")
        .await
        .value()
        .await;
    let id = keys["items"][0]["id"].as_str().unwrap().to_owned();
    let sunset = date_in(&app, 90);
    let response = console
        .post(
            &format!("/console/integrator-keys/{id}/sunset"),
            &[("csrf_token", &csrf), ("legacy_sunset_at", &sunset)],
        )
        .await;
    assert_eq!(
        location(&response),
        "/console/integrator-keys?done=sunset_set"
    );
    let key: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}"))
        .await
        .value()
        .await;
    assert_eq!(key["legacy_sunset_at"], format!("{sunset}T00:00:00Z"));
    let page = console.page("/console/integrator-keys").await;
    assert!(page.contains(imported));
    assert!(page.contains(&format!("<span>{sunset}</span> <span>00:00 UTC</span>")));
    let response = console
        .post(
            &format!("/console/integrator-keys/{id}/sunset"),
            &[("csrf_token", &csrf), ("clear", "1")],
        )
        .await;
    assert_eq!(
        location(&response),
        "/console/integrator-keys?done=sunset_cleared"
    );
    let key: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}"))
        .await
        .value()
        .await;
    assert!(key["legacy_sunset_at"].is_null());
    // Revoke asks first.
    let response = console
        .post(
            &format!("/console/integrator-keys/{id}/revoke"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().await.contains("Revoke integrator key?"));
    let response = console
        .post(
            &format!("/console/integrator-keys/{id}/revoke"),
            &[("csrf_token", &csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(location(&response), "/console/integrator-keys?done=revoked");
    let key: Value = app
        .admin_get(&format!("/admin/v1/integrator-keys/{id}"))
        .await
        .value()
        .await;
    assert_eq!(key["status"], "revoked");
    // The organization-wide switch.
    let response = console
        .post(
            "/console/organization/legacy-header",
            &[("csrf_token", &csrf), ("enabled", "false")],
        )
        .await;
    assert_eq!(
        location(&response),
        "/console/integrator-keys?done=legacy_disabled"
    );
    let page = console.page("/console/integrator-keys").await;
    assert!(page.contains("Accept the legacy header again"));
}

#[tokio::test]
async fn audit_page_filters_by_action_and_time_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    for index in 0..60 {
        app.create_user(&format!("user{index}@example.com"), None)
            .await;
    }
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    // Events are written in batches off the request path; wait until all are visible.
    let visible = app
        .eventually(std::time::Duration::from_secs(10), || async {
            let page = console.page("/console/audit?action=user.create").await;
            page.matches("<code class=\"action\">user.create</code>")
                .count()
                == 50
        })
        .await;
    assert!(visible, "the first page holds 50 events");
    let page = console.page("/console/audit?action=user.create").await;
    assert!(!page.contains(">admin.login</code>"));
    let older = page
        .split("id=\"older\" rel=\"next\" href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(older.contains("action=user.create"), "{older}");
    let second = console.page(&older).await;
    assert_eq!(second.matches(">user.create</code>").count(), 10);
    assert!(!second.contains("id=\"older\""));
    // Filter by actor and by day.
    let today = date_in(&app, 0);
    let tomorrow = date_in(&app, 1);
    let page = console
        .page(&format!(
            "/console/audit?actor=admin%40example.com&since={today}&until={today}"
        ))
        .await;
    assert!(page.contains(">admin.login</code>"));
    let page = console
        .page(&format!("/console/audit?since={tomorrow}"))
        .await;
    assert!(page.contains("No events match."));
    let response = console.get("/console/audit?since=yesterday").await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.body().await.contains("id=\"since-error\""));
}

#[tokio::test]
async fn unknown_ids_get_the_not_found_page() {
    let app = spawn_app().await;
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let response = console.get("/console/users/not-a-uuid").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response.body().await;
    assert!(body.contains("No such user"));
    assert!(body.contains("Sign out"), "error pages offer sign-out too");
    let response = console
        .get("/console/users/0190a0b0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = console.page("/console/api-users").await;
    let response = console
        .post(
            "/console/api-users/0190a0b0-0000-7000-8000-000000000000/revoke",
            &[("csrf_token", &csrf_token(&page)), ("confirm", "yes")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

/// The page covers every integrator key, not the first 1,000: a key created after 1,000 others
/// is shown with its use.
#[tokio::test]
async fn legacy_usage_page_shows_a_key_created_after_1000_others() {
    let app = spawn_app().await;
    let rows: String = (0..1_000)
        .map(|i| {
            format!(
                "INSERT INTO integrator_keys (id, organization_id, key, name, status, created_at) \
                 VALUES ('{}', '{}', 'bulk-key-{i}', 'Bulk {i}', 'active', 0);",
                uuid::Uuid::now_v7(),
                app.organization_id
            )
        })
        .collect();
    app.store.execute_raw(&rows).await.unwrap();
    let created = app.create_integrator_key("Late ERP", None).await;
    app.create_sender("late@acme.example", Some("late-password-1"))
        .await;
    let header = countersign_core::legacy::build_header(
        countersign_core::legacy::HeaderFormat::Json,
        "late@acme.example",
        "late-password-1",
        &created.key,
        None,
    );
    assert_eq!(app.verify_legacy(&header).await.status(), StatusCode::OK);
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = console.page("/console/legacy-usage").await;
    assert!(page.contains("Bulk 999"), "the 1,000th key");
    assert!(
        page.contains("Plan the migration of Late ERP"),
        "the 1,001st key with its use"
    );
}

#[tokio::test]
async fn legacy_usage_page_shows_use_and_migrates_to_an_api_user() {
    let app = spawn_app().await;
    let created = app.create_integrator_key("Acme ERP", None).await;
    let key = created.key.clone();
    let id = created.id.clone();
    let user = app
        .create_sender("erp@acme.example", Some("erp-password-1"))
        .await;
    let header = countersign_core::legacy::build_header(
        countersign_core::legacy::HeaderFormat::Json,
        "erp@acme.example",
        "erp-password-1",
        &key,
        None,
    );
    for _ in 0..3 {
        let response = app.verify_legacy(&header).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let console = ConsoleClient::new(&app);
    console.sign_in().await;
    let page = console.page("/console/legacy-usage").await;
    assert!(page.contains("erp@acme.example") && page.contains("Plan the migration of Acme ERP"));
    assert!(page.contains("<svg"), "requests-per-day chart");
    let plan = console.page(&format!("/console/legacy-usage/{id}")).await;
    assert!(
        plan.contains(&format!("user {user}")),
        "one user: a user scope"
    );
    assert!(plan.contains("3 of 3"), "full coverage");
    let csrf = csrf_token(&plan);
    let expires = date_in(&app, 30);
    let response = console
        .post(
            &format!("/console/legacy-usage/{id}/migrate"),
            &[
                ("csrf_token", &csrf),
                ("username", "acme-erp-api"),
                ("expires_at", &expires),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let html = response.body().await;
    let new_key = value_of_id(&html, "new-key").unwrap();
    assert!(new_key.starts_with("csk_"));
    assert!(html.contains("X-AS-UserContext"));
    assert_eq!(
        app.exchange("acme-erp-api", &new_key, "erp@acme.example")
            .await
            .status(),
        StatusCode::OK
    );
    let forged = console
        .post(
            &format!("/console/legacy-usage/{id}/migrate"),
            &[("username", "forged"), ("expires_at", &expires)],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}
