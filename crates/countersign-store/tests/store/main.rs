//! Store suite: every test runs on a fresh SQLite file, and on a fresh PostgreSQL database when
//! `COUNTERSIGN_TEST_POSTGRES_URL` is set.

#[path = "../../../countersign-test-support/src/database.rs"]
mod database;

use countersign_core::api_user::{ApiUser, Scope};
use countersign_core::directory::{
    Account, Environment, EnvironmentKind, Organization, Permissions,
};
use countersign_core::ids::{
    AccountId, ApiKeyId, ApiUserId, EnvironmentId, OrganizationId, UserId,
};
use countersign_store::{NewApiUser, NewUser, Store, StoreConfig, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

struct Fixture {
    store: Store,
    organization: OrganizationId,
    environment: EnvironmentId,
    account: AccountId,
    admin: UserId,
    _database: database::TestDatabase,
}

async fn fresh() -> Fixture {
    let (url, database) = database::fresh_database().await;
    let store = Store::connect(&StoreConfig {
        url,
        max_connections: 4,
    })
    .await
    .expect("connect");
    store.migrate().await.expect("migrate");
    let now = OffsetDateTime::now_utc();
    let organization = Organization {
        id: OrganizationId(Uuid::now_v7()),
        name: "Org".into(),
        legacy_header_enabled: true,
    };
    let environment = Environment {
        id: EnvironmentId(Uuid::now_v7()),
        organization_id: organization.id,
        name: "Production".into(),
        kind: EnvironmentKind::Production,
    };
    let account = Account {
        id: AccountId(Uuid::now_v7()),
        environment_id: environment.id,
        number: "10000001".into(),
        name: "Main".into(),
    };
    let admin = NewUser {
        id: UserId(Uuid::now_v7()),
        organization_id: organization.id,
        email: "Admin@Example.com".into(),
        name: "Admin".into(),
        password_hash: None,
    };
    assert!(store.is_empty().await.expect("empty"));
    store
        .bootstrap(&organization, &environment, &account, &admin, now)
        .await
        .expect("bootstrap");
    Fixture {
        store,
        organization: organization.id,
        environment: environment.id,
        account: account.id,
        admin: admin.id,
        _database: database,
    }
}

#[test]
fn migration_lists_match_between_backends() {
    let names = |backend: &str| {
        let dir = format!("{}/migrations/{backend}", env!("CARGO_MANIFEST_DIR"));
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("migrations folder")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

#[tokio::test]
async fn bootstrap_creates_an_organization_administrator() {
    let f = fresh().await;
    assert!(!f.store.is_empty().await.expect("count"));
    let administered = f
        .store
        .list_administered_environments(f.admin)
        .await
        .expect("admins");
    assert_eq!(administered, vec![f.environment]);
    let memberships = f
        .store
        .list_memberships(f.admin)
        .await
        .expect("memberships");
    assert_eq!(memberships.len(), 1);
    assert!(memberships[0].is_default);
    assert!(memberships[0].permissions.contains(Permissions::SOBO));
    let found = f
        .store
        .find_user_by_email(f.organization, "admin@EXAMPLE.com")
        .await
        .expect("find");
    assert_eq!(found.map(|u| u.id), Some(f.admin));
    let _ = f.account;
}

/// An organization-scoped API user named `name`, expiring a day after `now`.
fn new_api_user(organization: OrganizationId, name: &str, now: OffsetDateTime) -> NewApiUser {
    NewApiUser {
        api_user: ApiUser {
            id: ApiUserId(Uuid::now_v7()),
            organization_id: organization,
            username: name.into(),
            scope: Scope::Organization,
            expires_at: now + Duration::days(1),
            description: None,
            created_at: now,
            created_by: "test".into(),
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
        },
        key_id: ApiKeyId(Uuid::now_v7()),
        key_digest: "00".into(),
    }
}

#[tokio::test]
async fn api_usernames_are_unique_case_insensitively() {
    let f = fresh().await;
    let now = OffsetDateTime::now_utc();
    let make = |name: &str| new_api_user(f.organization, name, now);
    f.store
        .insert_api_user(&make("NewAPIUser"))
        .await
        .expect("first");
    let second = f.store.insert_api_user(&make("newapiuser")).await;
    assert!(
        matches!(second, Err(StoreError::Conflict { .. })),
        "{second:?}"
    );
    let found = f
        .store
        .find_api_user_by_username("NEWAPIUSER")
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found.keys.len(), 1);
}

#[tokio::test]
async fn look_alike_rows_from_before_skeletons_are_kept_reported_and_block_new_ones() {
    let f = fresh().await;
    let now = OffsetDateTime::now_utc();
    let make = |name: &str| new_api_user(f.organization, name, now);
    f.store
        .insert_api_user(&make("svc-reports"))
        .await
        .expect("first");
    // Rows as written before migration 0004: a look-alike pair, neither with a skeleton.
    let twin = Uuid::now_v7();
    let user_twin = Uuid::now_v7();
    f.store
        .execute_raw(&format!(
            "UPDATE api_users SET username_skeleton = NULL; \
             UPDATE users SET email_skeleton = NULL; \
             INSERT INTO api_users (id, organization_id, username, username_lower, scope_type, \
             expires_at, created_at, created_by) VALUES ('{twin}', '{org}', 'svc-rep\u{043E}rts', \
             'svc-rep\u{043E}rts', 'organization', 0, 0, 'test'); \
             INSERT INTO users (id, organization_id, email, email_lower, name, status, created_at) \
             VALUES ('{user_twin}', '{org}', 'Adm\u{0456}n@Example.com', 'adm\u{0456}n@example.com', \
             'Twin', 'active', 0)",
            org = f.organization
        ))
        .await
        .expect("old rows");
    // Migrating again fills the skeletons it can; the younger twin keeps NULL and stays.
    f.store.migrate().await.expect("migrate again");
    let collisions = f.store.list_name_collisions().await.expect("collisions");
    assert_eq!(collisions.len(), 2, "{collisions:?}");
    let api = collisions
        .iter()
        .find(|c| c.kind == "api_user")
        .expect("api users collide");
    assert_eq!(
        api.rows
            .iter()
            .map(|(_, name)| name.as_str())
            .collect::<Vec<_>>(),
        ["svc-reports", "svc-rep\u{043E}rts"]
    );
    let users = collisions
        .iter()
        .find(|c| c.kind == "user")
        .expect("emails collide");
    assert_eq!(users.rows.len(), 2);
    assert_eq!(
        users.organization_id.as_deref(),
        Some(f.organization.to_string().as_str())
    );
    // A third look-alike is refused whichever twin it resembles.
    let third = f.store.insert_api_user(&make("\u{0455}vc-reports")).await;
    assert!(
        matches!(third, Err(StoreError::Conflict { .. })),
        "{third:?}"
    );
}

#[tokio::test]
async fn introspection_clients_are_kept_per_organization_with_their_secret_digest() {
    use countersign_core::ids::IntrospectionClientId;
    use countersign_core::introspection::IntrospectionClient;

    let f = fresh().await;
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).expect("time");
    let client = |client_id: &str, organization: OrganizationId| IntrospectionClient {
        id: IntrospectionClientId(Uuid::now_v7()),
        organization_id: organization,
        client_id: client_id.into(),
        name: "Envelope service".into(),
        created_at: now,
        created_by: "admin@example.com".into(),
    };
    let first = client("csic_first", f.organization);
    f.store
        .insert_introspection_client(&first, "ab12")
        .await
        .expect("insert");
    let duplicate = f
        .store
        .insert_introspection_client(&client("csic_first", f.organization), "cd34")
        .await;
    assert!(
        matches!(duplicate, Err(StoreError::Conflict { .. })),
        "{duplicate:?}"
    );
    let found = f
        .store
        .find_introspection_client_by_client_id("csic_first")
        .await
        .expect("find");
    assert_eq!(found, Some((first.clone(), "ab12".to_owned())));
    assert_eq!(
        f.store
            .find_introspection_client_by_client_id("CSIC_FIRST")
            .await
            .expect("find"),
        None,
        "client ids match exactly"
    );
    let page = f
        .store
        .list::<IntrospectionClient>(f.organization, None, 10)
        .await
        .expect("list");
    assert_eq!(page.items, vec![first.clone()]);
    let elsewhere = OrganizationId(Uuid::now_v7());
    assert!(
        f.store
            .list::<IntrospectionClient>(elsewhere, None, 10)
            .await
            .expect("list")
            .items
            .is_empty()
    );
    assert!(matches!(
        f.store.fetch(elsewhere, first.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        f.store
            .delete_introspection_client(elsewhere, first.id)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    f.store
        .delete_introspection_client(f.organization, first.id)
        .await
        .expect("delete");
    assert_eq!(
        f.store
            .find_introspection_client_by_client_id("csic_first")
            .await
            .expect("find"),
        None
    );
}

#[tokio::test]
async fn a_lease_is_held_by_one_holder_until_it_lapses_or_is_given_up() {
    let f = fresh().await;
    let now = OffsetDateTime::now_utc();
    let until = now + Duration::seconds(5);
    assert!(
        f.store
            .acquire_lease("lifecycle", "a", now, until)
            .await
            .expect("store")
    );
    assert!(
        !f.store
            .acquire_lease("lifecycle", "b", now, until)
            .await
            .expect("store")
    );
    assert!(
        f.store
            .acquire_lease("lifecycle", "a", now, until)
            .await
            .expect("store"),
        "renewed"
    );
    let later = until + Duration::seconds(1);
    assert!(
        f.store
            .acquire_lease("lifecycle", "b", later, later + Duration::seconds(5))
            .await
            .expect("store"),
        "a lapsed lease is taken over"
    );
    assert!(
        !f.store
            .acquire_lease("lifecycle", "a", later, later)
            .await
            .expect("store")
    );
    f.store
        .release_lease("lifecycle", "b")
        .await
        .expect("store");
    assert!(
        f.store
            .find_lease("lifecycle")
            .await
            .expect("store")
            .is_none()
    );
    assert!(
        f.store
            .acquire_lease("lifecycle", "a", later, later)
            .await
            .expect("store")
    );
}

#[tokio::test]
async fn an_event_is_recorded_once_with_one_delivery_per_subscribed_webhook() {
    use countersign_core::ids::{DeliveryId, WebhookId};
    use countersign_core::webhook::{EventType, Webhook};
    use countersign_store::NewEvent;
    let f = fresh().await;
    let now = OffsetDateTime::now_utc();
    for events in [
        vec![EventType::ApiUserRevoked],
        vec![EventType::ApiUserExpired],
    ] {
        let webhook = Webhook {
            id: WebhookId(Uuid::now_v7()),
            organization_id: f.organization,
            url: "https://hooks.example.com/".into(),
            events,
            created_at: now,
            created_by: "test".into(),
        };
        let registered = f.store.insert_webhook(&webhook, "sealed", 100).await;
        assert!(registered.expect("store"), "within the limit");
    }
    let event = |id: &str| NewEvent {
        id: id.into(),
        organization_id: f.organization,
        kind: EventType::ApiUserRevoked,
        subject: "subject".into(),
        mark: String::new(),
        mark_days: None,
        payload: "{}".into(),
        created_at: now,
    };
    let ids = || DeliveryId(Uuid::now_v7());
    assert!(
        f.store
            .record_event(&event("msg_1"), ids)
            .await
            .expect("store")
    );
    assert!(
        !f.store
            .record_event(&event("msg_2"), ids)
            .await
            .expect("store"),
        "the same subject, type and mark is one event"
    );
    let due = f.store.list_due_deliveries(now, 10).await.expect("store");
    assert_eq!(due.len(), 1, "only the subscribed webhook gets it");
    let until = now + Duration::seconds(60);
    let job = f
        .store
        .claim_delivery(due[0], now, until)
        .await
        .expect("store");
    assert_eq!(job.as_ref().map(|j| j.event_id.as_str()), Some("msg_1"));
    assert!(
        f.store
            .claim_delivery(due[0], now, until)
            .await
            .expect("store")
            .is_none(),
        "a claimed attempt is not claimed twice"
    );
    assert!(
        f.store
            .list_due_deliveries(now, 10)
            .await
            .expect("store")
            .is_empty()
    );
}
