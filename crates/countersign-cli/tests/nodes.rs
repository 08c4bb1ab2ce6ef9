//! Several real `countersign serve` processes on one PostgreSQL: a change on one node is
//! honoured by the others within a second (LISTEN/NOTIFY), and a node whose listener connection
//! is killed reconnects and still converges. Without `COUNTERSIGN_TEST_POSTGRES_URL` they fail
//! in CI and elsewhere print a SKIPPED line; they live in `on_postgresql`, which the SQLite pass
//! of `.ci/run` leaves out.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

mod support;

use countersign_core::legacy::{HeaderFormat, build_header};
use countersign_test_support::{Call as _, Read as _};
use countersign_test_support::{fresh_database, postgres_base_url};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{ADMIN, ADMIN_PASSWORD, Server, countersign_on, serve};

/// `countersign` on the PostgreSQL database `url`, quiet.
fn command(url: &str) -> Command {
    let mut command = countersign_on(url);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    command
}

async fn start_node(url: &str) -> Server {
    serve(command(url)).await
}

struct Cluster {
    a: Server,
    b: Server,
    client: reqwest::Client,
    admin: String,
    account: String,
    url: String,
    _database: countersign_test_support::TestDatabase,
}

async fn cluster() -> Option<Cluster> {
    if postgres_base_url().is_none() {
        countersign_test_support::skip::skip(
            "PostgreSQL: set COUNTERSIGN_TEST_POSTGRES_URL=postgres://USER@HOST:PORT/DB",
        );
        return None;
    }
    let (url, database) = fresh_database().await;
    let init = command(&url).arg("init").status().unwrap();
    let url = url.clone();
    assert!(init.success());
    let a = start_node(&url).await;
    let b = start_node(&url).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/admin/v1/login", a.base))
        .json(&json!({"email": ADMIN, "password": ADMIN_PASSWORD}))
        .call()
        .await
        .value()
        .await;
    let admin = login["token"].as_str().unwrap().to_owned();
    let accounts: Value = client
        .get(format!("{}/admin/v1/accounts", a.base))
        .bearer_auth(&admin)
        .call()
        .await
        .value()
        .await;
    let account = accounts["items"][0]["id"].as_str().unwrap().to_owned();
    Some(Cluster {
        a,
        b,
        client,
        admin,
        account,
        url,
        _database: database,
    })
}

impl Cluster {
    async fn admin_on_a(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.admin_at(&self.a.base, method, path, body).await
    }

    async fn admin_on_b(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        self.admin_at(&self.b.base, method, path, body).await
    }

    async fn admin_at(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> Value {
        let response = self
            .client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&self.admin)
            .json(&body)
            .call()
            .await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn user_with_membership(&self, email: &str, password: Option<&str>) -> String {
        let mut body = json!({"email": email, "name": email});
        if let Some(password) = password {
            body["password"] = json!(password);
        }
        let user = self
            .admin_on_a(reqwest::Method::POST, "/admin/v1/users", body)
            .await;
        let id = user["id"].as_str().unwrap().to_owned();
        self.admin_on_a(
            reqwest::Method::PUT,
            &format!("/admin/v1/users/{id}/memberships/{}", self.account),
            json!({"permissions": ["send"], "is_default": true}),
        )
        .await;
        id
    }

    async fn token(&self, username: &str, context: &str) -> Issued {
        let expires = (time::OffsetDateTime::now_utc() + time::Duration::days(5))
            .date()
            .to_string();
        let created = self
            .admin_on_a(reqwest::Method::POST, "/admin/v1/api-users", json!({"username": username, "scope": {"type": "organization"}, "expires_at": expires}))
            .await;
        let key = created["key"].as_str().unwrap();
        let response: Value = self
            .client
            .post(format!("{}/api/v3.5/authentication/apiUser", self.a.base))
            .json(&json!({"request": {"apiUsername": username, "key": key, "contextUsername": context}}))
            .call().await
            .value().await;
        Issued {
            credential: created["api_user"]["id"].as_str().unwrap().to_owned(),
            token: response["token"].as_str().unwrap().to_owned(),
        }
    }

    async fn status_on_b(&self, header: (&str, &str)) -> reqwest::StatusCode {
        self.client
            .get(format!("{}/v1/verify", self.b.base))
            .header(header.0, header.1)
            .call()
            .await
            .status()
    }

    /// Polls node B until it refuses, returning how long that took (or `None` past `deadline`).
    async fn refused_on_b_within(
        &self,
        header: (&str, &str),
        deadline: Duration,
    ) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if self.status_on_b(header).await == reqwest::StatusCode::UNAUTHORIZED {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }
}

impl Cluster {
    /// An integrator key set up on node A for the JWT Grant (RSA pair, consent for every user)
    /// and an access token for `user` obtained from node A (the credential: the key's id).
    async fn oauth_token(&self, user: &str) -> Issued {
        use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
        let key = self
            .admin_on_a(
                reqwest::Method::POST,
                "/admin/v1/integrator-keys",
                json!({"name": "jwt"}),
            )
            .await;
        let id = key["id"].as_str().unwrap().to_owned();
        let rsa = self
            .admin_on_a(
                reqwest::Method::POST,
                &format!("/admin/v1/integrator-keys/{id}/rsa-keys"),
                json!({"generate": true}),
            )
            .await;
        self.consent_on_a(&id, json!("all")).await;
        let der = rsa::RsaPrivateKey::from_pkcs1_pem(rsa["private_key_pem"].as_str().unwrap())
            .unwrap()
            .to_pkcs1_der()
            .unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        // Without --public-url a node's public URL is its own address; its host:port is the
        // OAuth host name.
        let audience = self.a.base.trim_start_matches("http://");
        let claims = json!({"iss": key["key"], "sub": user, "aud": audience, "iat": now,
            "exp": now + 3600, "scope": "signature impersonation"});
        let assertion = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_rsa_der(der.as_bytes()),
        )
        .unwrap();
        let answer: Value = self
            .client
            .post(format!("{}/oauth/token", self.a.base))
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .call()
            .await
            .value()
            .await;
        Issued {
            credential: id,
            token: answer["access_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn consent_on_a(&self, key: &str, users: Value) {
        self.admin_on_a(
            reqwest::Method::PUT,
            &format!("/admin/v1/integrator-keys/{key}/consent"),
            json!({"scopes": ["signature", "impersonation"], "user_ids": users}),
        )
        .await;
    }
}

/// A token obtained from node A, and the id of the credential it was issued to (an API user
/// or an integrator key).
struct Issued {
    credential: String,
    token: String,
}

/// The tests proper: PostgreSQL only.
mod on_postgresql {
    use super::*;

    #[tokio::test]
    async fn oauth_consent_withdrawn_or_key_revoked_on_one_node_is_refused_on_the_other_within_a_second()
     {
        let Some(c) = cluster().await else { return };
        let bob = c.user_with_membership("bob@example.com", None).await;
        let Issued {
            credential: key,
            token,
        } = c.oauth_token(&bob).await;
        let bearer = format!("Bearer {token}");
        assert_eq!(
            c.status_on_b(("authorization", &bearer)).await,
            reqwest::StatusCode::OK,
            "an access token issued on A works on B"
        );
        c.consent_on_a(&key, json!([])).await;
        let took = c
            .refused_on_b_within(("authorization", &bearer), Duration::from_secs(1))
            .await;
        eprintln!("consent withdrawal reached node B after {took:?}");
        assert!(took.is_some(), "node B still accepted the token after 1 s");
        c.consent_on_a(&key, json!("all")).await;
        let start = Instant::now();
        while c.status_on_b(("authorization", &bearer)).await != reqwest::StatusCode::OK {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "consent given again never reached B"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.admin_on_a(
            reqwest::Method::POST,
            &format!("/admin/v1/integrator-keys/{key}/revoke"),
            json!({}),
        )
        .await;
        let took = c
            .refused_on_b_within(("authorization", &bearer), Duration::from_secs(1))
            .await;
        eprintln!("integrator key revocation reached node B after {took:?}");
        assert!(took.is_some(), "node B still accepted the token after 1 s");
    }

    #[tokio::test]
    async fn revocation_on_one_node_is_refused_on_the_other_within_a_second() {
        let Some(c) = cluster().await else { return };
        c.user_with_membership("bob@example.com", None).await;
        let Issued {
            credential: api_user,
            token,
        } = c.token("bot", "bob@example.com").await;
        let bearer = format!("bearer {token}");
        assert_eq!(
            c.status_on_b(("authorization", &bearer)).await,
            reqwest::StatusCode::OK,
            "token issued on A works on B"
        );
        c.admin_on_a(
            reqwest::Method::POST,
            &format!("/admin/v1/api-users/{api_user}/revoke"),
            json!({}),
        )
        .await;
        let took = c
            .refused_on_b_within(("authorization", &bearer), Duration::from_secs(1))
            .await;
        eprintln!("revocation reached node B after {took:?}");
        assert!(took.is_some(), "node B still accepted the token after 1 s");
    }

    #[tokio::test]
    async fn disabling_a_user_on_one_node_is_refused_on_the_other_within_a_second() {
        let Some(c) = cluster().await else { return };
        let bob = c.user_with_membership("bob@example.com", None).await;
        let Issued { token, .. } = c.token("bot", "bob@example.com").await;
        let bearer = format!("bearer {token}");
        assert_eq!(
            c.status_on_b(("authorization", &bearer)).await,
            reqwest::StatusCode::OK
        );
        c.admin_on_a(
            reqwest::Method::PATCH,
            &format!("/admin/v1/users/{bob}"),
            json!({"status": "disabled"}),
        )
        .await;
        let took = c
            .refused_on_b_within(("authorization", &bearer), Duration::from_secs(1))
            .await;
        eprintln!("disable reached node B after {took:?}");
        assert!(took.is_some());
    }

    #[tokio::test]
    async fn password_change_on_one_node_ends_the_legacy_header_on_the_other_within_a_second() {
        let Some(c) = cluster().await else { return };
        let carol = c
            .user_with_membership("carol@example.com", Some("first-password"))
            .await;
        let key: Value = c
            .admin_on_a(
                reqwest::Method::POST,
                "/admin/v1/integrator-keys",
                json!({"name": "k"}),
            )
            .await;
        let header = build_header(
            HeaderFormat::Json,
            "carol@example.com",
            "first-password",
            key["key"].as_str().unwrap(),
            None,
        );
        assert_eq!(
            c.status_on_b(("x-docusign-authentication", &header)).await,
            reqwest::StatusCode::OK,
            "cached on B"
        );
        c.admin_on_a(
            reqwest::Method::PUT,
            &format!("/admin/v1/users/{carol}/password"),
            json!({"password": "second-password"}),
        )
        .await;
        let took = c
            .refused_on_b_within(
                ("x-docusign-authentication", &header),
                Duration::from_secs(1),
            )
            .await;
        eprintln!("password change reached node B after {took:?}");
        assert!(took.is_some());
    }

    #[tokio::test]
    async fn node_reconnects_after_its_listener_is_terminated_and_still_converges() {
        let Some(c) = cluster().await else { return };
        c.user_with_membership("dave@example.com", None).await;
        let Issued {
            credential: api_user,
            token,
        } = c.token("bot", "dave@example.com").await;
        let bearer = format!("bearer {token}");
        assert_eq!(
            c.status_on_b(("authorization", &bearer)).await,
            reqwest::StatusCode::OK
        );
        let base = postgres_base_url().unwrap();
        let admin = countersign_store::Store::connect(&countersign_store::StoreConfig {
            url: base,
            max_connections: 1,
        })
        .await
        .unwrap();
        admin
        .execute_raw("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'countersign-listener' AND pid <> pg_backend_pid()")
        .await
        .unwrap();
        c.admin_on_a(
            reqwest::Method::POST,
            &format!("/admin/v1/api-users/{api_user}/revoke"),
            json!({}),
        )
        .await;
        let took = c
            .refused_on_b_within(("authorization", &bearer), Duration::from_secs(5))
            .await;
        eprintln!("after the listener was killed, revocation reached node B after {took:?}");
        assert!(took.is_some());
        // The listener is back: a second change propagates fast again.
        let Issued {
            credential: second,
            token,
        } = c.token("bot2", "dave@example.com").await;
        let bearer = format!("bearer {token}");
        // Wait until both nodes listen again (their listener connections are back and idle
        // after LISTEN), so what follows measures propagation, not the reconnection.
        let deadline = Instant::now() + Duration::from_secs(10);
        while admin
            .execute_raw(
                "DO $$ BEGIN IF (SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = 'countersign-listener' AND state = 'idle' \
                 AND query ILIKE 'LISTEN%') < 2 THEN RAISE EXCEPTION 'not listening yet'; \
                 END IF; END $$",
            )
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "the nodes did not listen again");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        admin.close().await;
        c.admin_on_a(
            reqwest::Method::POST,
            &format!("/admin/v1/api-users/{second}/revoke"),
            json!({}),
        )
        .await;
        assert!(
            c.refused_on_b_within(("authorization", &bearer), Duration::from_secs(1))
                .await
                .is_some()
        );
    }

    #[tokio::test]
    async fn legacy_usage_counted_on_two_nodes_adds_up_exactly() {
        let Some(c) = cluster().await else { return };
        let dave = c
            .user_with_membership("dave@example.com", Some("dave-password"))
            .await;
        let key: Value = c
            .admin_on_a(
                reqwest::Method::POST,
                "/admin/v1/integrator-keys",
                json!({"name": "two-nodes"}),
            )
            .await;
        let key_id = key["id"].as_str().unwrap().to_owned();
        let header = build_header(
            HeaderFormat::Json,
            "dave@example.com",
            "dave-password",
            key["key"].as_str().unwrap(),
            None,
        );
        let send = |base: String, agent: &'static str| {
            let (client, header) = (c.client.clone(), header.clone());
            async move {
                for _ in 0..25 {
                    let status = client
                        .get(format!("{base}/v1/verify"))
                        .header("x-docusign-authentication", &header)
                        .header("user-agent", agent)
                        .call()
                        .await
                        .status();
                    assert_eq!(status, reqwest::StatusCode::OK);
                }
            }
        };
        tokio::join!(
            send(c.a.base.clone(), "erp-on-a"),
            send(c.b.base.clone(), "erp-on-b"),
            send(c.b.base.clone(), "erp-on-b"),
        );
        // Each node flushes within 5 s; the listing flushes the asking node first.
        let path = format!("/admin/v1/legacy-usage?integrator_key_id={key_id}");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut usage = Value::Null;
        while Instant::now() < deadline {
            usage = c.admin_on_a(reqwest::Method::GET, &path, Value::Null).await;
            if usage["items"][0]["requests"] == 75 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let item = &usage["items"][0];
        assert_eq!(item["requests"], 75, "{usage}");
        assert_eq!(usage["items"].as_array().unwrap().len(), 1, "{usage}");
        assert_eq!(item["user_id"], dave.as_str());
        assert_eq!(item["account_ids"], json!([c.account]));
        let mut agents: Vec<&str> = item["user_agents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        agents.sort_unstable();
        assert_eq!(agents, ["erp-on-a", "erp-on-b"]);
        // Flushing both nodes again adds nothing more: a listing flushes the asking node.
        c.admin_on_b(reqwest::Method::GET, &path, Value::Null).await;
        let again = c.admin_on_a(reqwest::Method::GET, &path, Value::Null).await;
        assert_eq!(again["items"][0]["requests"], 75, "{again}");
    }

    /// Polls the heartbeat table until `count` nodes are live.
    async fn live_nodes(c: &Cluster, count: usize) {
        let store = countersign_store::Store::connect(&countersign_store::StoreConfig {
            url: c.url.clone(),
            max_connections: 1,
        })
        .await
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let since = time::OffsetDateTime::now_utc() - time::Duration::seconds(10);
            let live = store.list_live_nodes(since).await.unwrap().len();
            if live == count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{live} live nodes, expected {count}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn revoke_and_wait(c: &Cluster, api_user: &str) -> (reqwest::StatusCode, Value) {
        let response = c
            .client
            .post(format!(
                "{}/admin/v1/api-users/{api_user}/revoke?wait=true",
                c.a.base
            ))
            .bearer_auth(&c.admin)
            .call()
            .await;
        (response.status(), response.value().await)
    }

    #[tokio::test]
    async fn a_revocation_with_wait_answers_once_both_nodes_have_applied_it() {
        let Some(c) = cluster().await else { return };
        c.user_with_membership("erin@example.com", None).await;
        let Issued {
            credential: api_user,
            token,
        } = c.token("bot", "erin@example.com").await;
        let bearer = format!("bearer {token}");
        live_nodes(&c, 2).await;
        let (status, body) = revoke_and_wait(&c, &api_user).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        assert_eq!(body["applied"], json!({"nodes": 2, "of": 2}));
        assert_eq!(body["api_user"]["status"], "revoked");
        // Applied on B means B refuses the token now, without waiting.
        assert_eq!(
            c.status_on_b(("authorization", &bearer)).await,
            reqwest::StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn a_node_killed_without_shutdown_is_named_as_behind_after_two_seconds() {
        let Some(mut c) = cluster().await else { return };
        c.user_with_membership("frank@example.com", None).await;
        let Issued {
            credential: api_user,
            ..
        } = c.token("bot", "frank@example.com").await;
        live_nodes(&c, 2).await;
        c.b.child.kill().unwrap();
        c.b.child.wait().unwrap();
        let (status, body) = revoke_and_wait(&c, &api_user).await;
        assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["applied"], json!({"nodes": 1, "of": 2}));
        let behind = body["behind"].as_array().unwrap();
        assert_eq!(behind.len(), 1);
        assert!(
            behind[0]["name"]
                .as_str()
                .unwrap()
                .starts_with(c.b.base.trim_start_matches("http://")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_node_stopped_gracefully_removes_its_heartbeat() {
        let Some(c) = cluster().await else { return };
        live_nodes(&c, 2).await;
        let stopped = Command::new("kill")
            .args(["-TERM", &c.b.child.id().to_string()])
            .status()
            .unwrap();
        assert!(stopped.success());
        live_nodes(&c, 1).await;
        c.user_with_membership("grace@example.com", None).await;
        let Issued {
            credential: api_user,
            ..
        } = c.token("bot", "grace@example.com").await;
        let (status, body) = revoke_and_wait(&c, &api_user).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        assert_eq!(body["applied"], json!({"nodes": 1, "of": 1}));
    }
}
