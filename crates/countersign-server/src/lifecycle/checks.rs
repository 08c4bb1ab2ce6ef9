//! One round of the lifecycle checks (SPEC §13), run by the node holding the lease: expiry
//! warnings (the tightest passed mark, once per mark), expiries, revocations without an event,
//! revocation of credentials unused too long, retirement of silent rotated-out keys, and
//! integrator-key sunsets. Every event is recorded at most once whatever node records it.

use crate::ops::{OpError, Ops};
use countersign_core::ids::OrganizationId;
use countersign_core::lifecycle::{self, Policy};
use time::{Duration, OffsetDateTime};

/// Rows each query handles per round; the next round takes the rest.
const BATCH: i64 = 500;

/// How far back an expiry, revocation or sunset without an event is still announced (a
/// round that did not run for longer than this does not flood receivers with old news).
pub const LOOK_BACK: Duration = Duration::days(30);

/// Runs every check once at `now`.
///
/// # Errors
/// The first store failure; the next round starts over.
pub async fn run(ops: &Ops, now: OffsetDateTime) -> Result<(), OpError> {
    for (organization, policy) in ops.store.list_policies().await? {
        warn_of_expiry(ops, organization, &policy, now).await?;
        if let Some(days) = policy.api_user_unused_revoke_days {
            revoke_unused(ops, organization, days, now).await?;
        }
    }
    let store = &ops.store;
    for api_user in store
        .list_expired_unnoticed(now - LOOK_BACK, now, BATCH)
        .await?
    {
        ops.events.expired(store, &api_user, now).await?;
    }
    for api_user in store.list_revoked_unnoticed(now - LOOK_BACK, BATCH).await? {
        ops.events.revoked(store, &api_user, now).await?;
    }
    retire_silent_keys(ops, now).await?;
    for key in store
        .list_sunsets_unnoticed(now - LOOK_BACK, now, BATCH)
        .await?
    {
        ops.events.sunset_reached(store, &key, now).await?;
    }
    Ok(())
}

/// `api_user.expiring` for each API user whose tightest passed mark has no event yet. The
/// marks cut the time before expiry into bands, (0, m1], (m1, m2], …: an API user in a band
/// is due the band's mark unless that mark or a tighter one was sent, so marks passed at
/// the same moment send only the tightest and a looser one is never sent after it.
async fn warn_of_expiry(
    ops: &Ops,
    organization: OrganizationId,
    policy: &Policy,
    now: OffsetDateTime,
) -> Result<(), OpError> {
    let mut marks = policy.expiry_warning_days.clone();
    marks.sort_unstable();
    let mut tighter = 0;
    for mark in marks {
        let api_users = ops
            .store
            .list_expiring_unnoticed(
                organization,
                now + Duration::days(tighter),
                now + Duration::days(mark),
                mark,
                BATCH,
            )
            .await?;
        for api_user in api_users {
            if lifecycle::tightest_mark(&policy.expiry_warning_days, api_user.expires_at, now)
                == Some(mark)
            {
                ops.events
                    .expiring(&ops.store, &api_user, mark, now)
                    .await?;
            }
        }
        tighter = mark;
    }
    Ok(())
}

/// Revokes, as actor `policy`, the organization's API users unused for `days` days.
async fn revoke_unused(
    ops: &Ops,
    organization: OrganizationId,
    days: i64,
    now: OffsetDateTime,
) -> Result<(), OpError> {
    let unused = ops
        .store
        .list_unused_since(organization, now - Duration::days(days), now, BATCH)
        .await?;
    let actor = Ops::policy_actor(organization);
    for api_user in unused {
        if lifecycle::unused_too_long(&api_user, days, now) {
            tracing::info!(api_user = %api_user.id, days, "revoking an API user unused under the policy");
            ops.revoke_api_user(&actor, api_user.id).await?;
        }
    }
    Ok(())
}

/// Retires every rotated-out key that has been silent long enough after its successor's
/// first use.
async fn retire_silent_keys(ops: &Ops, now: OffsetDateTime) -> Result<(), OpError> {
    for with_keys in ops
        .store
        .list_api_users_with_silent_rotation(now, BATCH)
        .await?
    {
        let first_use = lifecycle::active_key(&with_keys.keys).and_then(|k| k.first_used_at);
        for key in &with_keys.keys {
            if lifecycle::silence_reached(key, first_use, now) {
                ops.retire_silent_key(&with_keys.api_user, key).await?;
            }
        }
    }
    Ok(())
}
