//! Store suite: every test runs on a fresh SQLite file, and on a fresh PostgreSQL database when
//! `COUNTERSIGN_TEST_POSTGRES_URL` is set.

use countersign_core::api_user::{ApiUser, Scope};
use countersign_core::directory::{Account, Environment, EnvironmentKind, Organization, Permissions};
use countersign_core::ids::{AccountId, ApiKeyId, ApiUserId, EnvironmentId, OrganizationId, UserId};
use countersign_store::{NewApiUser, NewUser, Store, StoreConfig, StoreError};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

struct Fixture {
    store: Store,
    organization: OrganizationId,
    environment: EnvironmentId,
    account: AccountId,
    admin: UserId,
    _dir: tempfile::TempDir,
}

async fn fresh() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = Store::connect(&StoreConfig { url, max_connections: 4 }).await.expect("connect");
    store.migrate().await.expect("migrate");
    let now = OffsetDateTime::now_utc();
    let organization = Organization { id: OrganizationId(Uuid::now_v7()), name: "Org".into(), legacy_header_enabled: true };
    let environment = Environment {
        id: EnvironmentId(Uuid::now_v7()),
        organization_id: organization.id,
        name: "Production".into(),
        kind: EnvironmentKind::Production,
    };
    let account = Account { id: AccountId(Uuid::now_v7()), environment_id: environment.id, number: "10000001".into(), name: "Main".into() };
    let admin = NewUser {
        id: UserId(Uuid::now_v7()),
        organization_id: organization.id,
        email: "Admin@Example.com".into(),
        name: "Admin".into(),
        password_hash: None,
    };
    assert!(store.is_empty().await.expect("empty"));
    store.bootstrap(&organization, &environment, &account, &admin, now).await.expect("bootstrap");
    Fixture { store, organization: organization.id, environment: environment.id, account: account.id, admin: admin.id, _dir: dir }
}

#[tokio::test]
async fn bootstrap_creates_an_organization_administrator() {
    let f = fresh().await;
    assert!(!f.store.is_empty().await.expect("count"));
    let administered = f.store.list_administered_environments(f.admin).await.expect("admins");
    assert_eq!(administered, vec![f.environment]);
    let memberships = f.store.list_memberships(f.admin).await.expect("memberships");
    assert_eq!(memberships.len(), 1);
    assert!(memberships[0].is_default);
    assert!(memberships[0].permissions.contains(Permissions::SOBO));
    let found = f.store.find_user_by_email(f.organization, "admin@EXAMPLE.com").await.expect("find");
    assert_eq!(found.map(|u| u.id), Some(f.admin));
    let _ = f.account;
}

#[tokio::test]
async fn api_usernames_are_unique_case_insensitively() {
    let f = fresh().await;
    let now = OffsetDateTime::now_utc();
    let make = |name: &str| NewApiUser {
        api_user: ApiUser {
            id: ApiUserId(Uuid::now_v7()),
            organization_id: f.organization,
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
    };
    f.store.insert_api_user(&make("NewAPIUser")).await.expect("first");
    let second = f.store.insert_api_user(&make("newapiuser")).await;
    assert!(matches!(second, Err(StoreError::Conflict { .. })), "{second:?}");
    let found = f.store.find_api_user_by_username("NEWAPIUSER").await.expect("find").expect("present");
    assert_eq!(found.keys.len(), 1);
}
