//! Send-On-Behalf-Of: each refusal, the audit naming the real actor, and login_information within
//! the actor's rights.

use super::*;

#[tokio::test]
async fn each_sobo_failure_is_user_lacks_permissions() {
    async fn lacks(w: &World, sobo: &str, case: &str) {
        let (status, code, _) =
            error_of(verify_with(&w.app, &json_header(SERVICE, PASSWORD, Some(sobo)), None).await)
                .await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::UNAUTHORIZED, "USER_LACKS_PERMISSIONS"),
            "{case}"
        );
    }
    let w = world().await;
    // The SOBO user in another account only.
    let CreatedAccount {
        id: other_account, ..
    } = w.app.create_account(&w.app.environment_id, "Other").await;
    let outsider = w.app.create_user("outsider@domain.com", None).await;
    w.app
        .put_membership(&outsider, &other_account, &["send"], true)
        .await;
    lacks(&w, "outsider@domain.com", "SOBO user in another account").await;
    // The SOBO user without send.
    let reader = w.app.create_user("reader@domain.com", None).await;
    w.app.put_membership(&reader, &w.account, &[], true).await;
    lacks(&w, "reader@domain.com", "SOBO user without send").await;
    // A disabled SOBO user.
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.sobo))
        .json(&json!({"status": "disabled"}))
        .call()
        .await;
    lacks(&w, SOBO, "disabled SOBO user").await;
    w.app
        .admin(Method::PATCH, &format!("/admin/v1/users/{}", w.sobo))
        .json(&json!({"status": "active"}))
        .call()
        .await;
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, PASSWORD, Some(&w.sobo)), None)
            .await
            .status(),
        StatusCode::OK,
        "SOBO by user id"
    );
    // Missing account_wide, then missing sobo.
    w.app
        .put_membership(&w.service, &w.account, &["send", "sobo"], true)
        .await;
    lacks(&w, SOBO, "missing account_wide").await;
    w.app
        .put_membership(&w.service, &w.account, &["send", "account_wide"], true)
        .await;
    lacks(&w, SOBO, "missing sobo").await;
}

#[tokio::test]
async fn sobo_is_audited_with_the_authenticated_user_as_actor() {
    let w = world().await;
    assert_eq!(
        verify_with(&w.app, &json_header(SERVICE, PASSWORD, Some(SOBO)), None)
            .await
            .status(),
        StatusCode::OK
    );
    let seen = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=legacy.sobo")
                .await
                .value()
                .await;
            body["items"].as_array().unwrap().iter().any(|i| {
                i["actor"] == SERVICE
                    && i["subject"] == w.sobo.as_str()
                    && i["outcome"] == "success"
            })
        })
        .await;
    assert!(seen);
    let whoami: Value = w
        .app
        .get("/v1/whoami")
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .call()
        .await
        .value()
        .await;
    assert_eq!(whoami["user_id"], w.sobo.as_str());
    assert_eq!(whoami["actor"], w.service.as_str());
    assert_eq!(whoami["auth_method"], "legacy_header_sobo");
}

#[tokio::test]
async fn every_sobo_request_is_counted_exactly_in_the_audit() {
    let w = world().await;
    let header = json_header(SERVICE, PASSWORD, Some(SOBO));
    for _ in 0..25 {
        assert_eq!(
            verify_with(&w.app, &header, None).await.status(),
            StatusCode::OK
        );
    }
    // Repeats are answered from the thread cache; each one still counts.
    let counted = |body: &Value| -> u64 {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| {
                i["actor"] == SERVICE
                    && i["subject"] == w.sobo.as_str()
                    && i["outcome"] == "success"
                    && i["source_ip"] == "127.0.0.1"
            })
            .filter_map(|i| i["detail"].as_str())
            .filter(|detail| detail.contains(&w.account))
            .filter_map(|detail| detail.split(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let complete = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=legacy.sobo")
                .await
                .value()
                .await;
            counted(&body) == 25
        })
        .await;
    assert!(complete, "25 on-behalf-of requests are 25 in the audit");
}

#[tokio::test]
async fn sobo_login_information_stays_within_the_actors_rights() {
    let w = world().await;
    // The user acted for also administers a private account the service cannot act in.
    let env = w.app.environment_id.clone();
    let CreatedAccount { id: private, .. } = w.app.create_account(&env, "Private").await;
    w.app
        .put_membership(&w.sobo, &private, &["send", "admin"], false)
        .await;
    let response = w
        .app
        .client
        .get(
            w.app
                .url("/restapi/v2/login_information?include_account_id_guid=true"),
        )
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .call()
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.value().await;
    let listed: Vec<&str> = body["loginAccounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["accountIdGuid"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec![w.account.as_str()]);
    assert!(body.get("apiPassword").is_none());
    // No credential is ever made for the user acted for.
    let response = w
        .app
        .get("/restapi/v2/login_information?api_password=true")
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .call()
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code, "USER_LACKS_PERMISSIONS");
    // A user acted for who lacks `send` in the account lends the service nothing there.
    w.app
        .put_membership(&w.sobo, &w.account, &["admin"], true)
        .await;
    let response = w
        .app
        .get("/restapi/v2/login_information")
        .header(
            "X-DocuSign-Authentication",
            json_header(SERVICE, PASSWORD, Some(SOBO)),
        )
        .call()
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code, "USER_LACKS_PERMISSIONS");
    let denied = w
        .app
        .eventually(std::time::Duration::from_secs(5), || async {
            let body: Value = w
                .app
                .admin_get("/admin/v1/audit?action=legacy.sobo")
                .await
                .value()
                .await;
            body["items"].as_array().unwrap().iter().any(|i| {
                i["actor"] == SERVICE && i["outcome"] == "denied" && i["source_ip"] == "127.0.0.1"
            })
        })
        .await;
    assert!(denied, "the refusal is audited with the real actor");
}

#[tokio::test]
async fn login_information_has_the_documented_shape() {
    let w = world().await;
    let CreatedAccount {
        id: second,
        number: second_number,
    } = w.app.create_account(&w.app.environment_id, "Second").await;
    w.app
        .put_membership(&w.service, &second, &["send"], false)
        .await;
    let response = legacy_get(
        &w.app,
        "/restapi/v2/login_information?include_account_id_guid=True&login_settings=ALL",
        &json_header(SERVICE, PASSWORD, None),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = response.value().await;
    assert!(body.get("apiPassword").is_none());
    let accounts = body["loginAccounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let first = &accounts[0];
    assert_eq!(
        first["accountId"],
        w.number.as_str(),
        "default account first"
    );
    assert_eq!(first["isDefault"], "true");
    assert_eq!(accounts[1]["isDefault"], "false");
    assert_eq!(accounts[1]["accountId"], second_number.as_str());
    assert_eq!(first["accountIdGuid"], w.account.as_str());
    assert_eq!(
        first["baseUrl"],
        format!("{}/restapi/v2/accounts/{}", w.app.base, w.number)
    );
    assert_eq!(first["userId"], w.service.as_str());
    assert_eq!(first["email"], SERVICE);
    assert_eq!(first["userName"], SERVICE);
    assert_eq!(first["siteDescription"], "");
    assert!(first["loginUserSettings"].is_array());
    let v21: Value = legacy_get(
        &w.app,
        "/restapi/v2.1/login_information",
        &json_header(SERVICE, PASSWORD, None),
    )
    .await
    .value()
    .await;
    assert_eq!(
        v21["loginAccounts"][0]["baseUrl"],
        format!("{}/restapi/v2.1/accounts/{}", w.app.base, w.number)
    );
    assert!(v21["loginAccounts"][0].get("accountIdGuid").is_none());
    let (status, code, _) = error_of(w.app.get("/restapi/v2/login_information").call().await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNAUTHORIZED, "PARTNER_AUTHENTICATION_FAILED")
    );
}
