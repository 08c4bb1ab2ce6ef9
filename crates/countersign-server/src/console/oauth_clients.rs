//! An integrator key as an OAuth client in the console (SPEC §12): redirect URIs and the
//! implicit grant, client secrets (shown once), RSA keys (generated with the private key shown
//! once, or uploaded), and the organization's consent for chosen users or all. Every change
//! goes through `ops`, as in the admin API.

use super::directory::all;
use super::layout::{self, Reply, Section, copy_button, when_html};
use super::session::{Admin, Posted, csrf_field, see_other};
use crate::console::layout::{ConsoleId, PostedId};
use crate::ops::{NewRsaKey, OpError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::directory::{IntegratorKey, User};
use countersign_core::ids::{IntegratorKeyId, OAuthRsaKeyId, OAuthSecretId, UserId};
use countersign_core::oauth::{ConsentUsers, Scopes};
use maud::{Markup, html};

/// What the page shows once, after a change.
#[derive(Default)]
struct Shown {
    notice: Option<String>,
    error: Option<String>,
    secret: Option<String>,
    private_key: Option<String>,
}

fn path_of(id: IntegratorKeyId) -> String {
    format!("/console/integrator-keys/{id}/oauth")
}

/// What was just done, for the notice.
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoticeQuery {
    saved: Option<String>,
    deleted: Option<String>,
    consent: Option<String>,
}

/// `GET /console/integrator-keys/{id}/oauth`.
pub async fn oauth_page(
    State(state): State<AppState>,
    admin: Admin,
    ConsoleId(id): ConsoleId<IntegratorKeyId>,
    super::session::PageQuery(query): super::session::PageQuery<NoticeQuery>,
) -> Reply {
    let notice = if query.saved.is_some() {
        Some("The OAuth client settings were saved.")
    } else if query.deleted.is_some() {
        Some("Deleted: it is refused from now on.")
    } else if query.consent.is_some() {
        Some("The consent was saved; tokens of users it no longer covers stop working at once.")
    } else {
        None
    };
    let shown = Shown {
        notice: notice.map(str::to_owned),
        ..Shown::default()
    };
    render(&state, &admin, id, shown, StatusCode::OK).await
}

async fn render(
    state: &AppState,
    admin: &Admin,
    id: IntegratorKeyId,
    shown: Shown,
    status: StatusCode,
) -> Reply {
    let key = state.store.fetch(admin.actor.organization_id, id).await?;
    let secrets = state.store.list_oauth_secrets(id).await?;
    let rsa_keys = state.store.list_oauth_rsa_keys(id).await?;
    let consent = state.store.find_admin_consent(id).await?;
    let users = all::<User>(state, admin.actor.organization_id).await?;
    let csrf = &admin.session.csrf_token;
    let action = path_of(id);
    let (consent_scopes, consent_users) = match &consent {
        Some(record) => (record.consent.scopes, Some(&record.consent.users)),
        None => (Scopes::SIGNATURE.with(Scopes::IMPERSONATION), None),
    };
    let body = html! {
        (layout::notice(shown.notice.as_deref()))
        @if let Some(error) = &shown.error { p.error-summary role="alert" #oauth-error { (error) } }
        p { "Client id: " code #client-id { (key.key) } " · OAuth host name: " code #oauth-host { (state.config.oauth_host()) } }
        @if let Some(secret) = &shown.secret {
            p.warning role="alert" { "Copy the client secret now: it is not stored and will not be shown again." }
            div.field { label for="new-secret" { "Client secret (shown once)" }
                span.copy-row { input #new-secret type="text" readonly value=(secret); (copy_button("new-secret", "Copy the client secret")) } }
        }
        @if let Some(private) = &shown.private_key {
            p.warning role="alert" { "Copy the private key now: it is not stored and will not be shown again. The integration signs its JWT Grant assertions with it." }
            div.field { label for="new-private-key" { "Private key (shown once)" }
                textarea #new-private-key readonly rows="8" { (private) } (copy_button("new-private-key", "Copy the private key")) }
        }
        section.card aria-labelledby="redirects-heading" {
            h2 #redirects-heading { "Authorization Code Grant" }
            form.stack method="post" action=(format!("{action}/client")) {
                (csrf_field(csrf))
                div.field {
                    label for="redirect_uris" { "Redirect URIs, one per line" }
                    p.hint #redirect_uris-hint { "https, http on localhost or 127.0.0.1, or an app scheme such as com.example.app:/callback. Requests must name one exactly." }
                    textarea #redirect_uris name="redirect_uris" rows="4" aria-describedby="redirect_uris-hint" { (key.redirect_uris.join("\n")) }
                }
                div.field.checkbox {
                    input #allow_implicit type="checkbox" name="allow_implicit" value="true" checked[key.allow_implicit];
                    label for="allow_implicit" { "Allow the implicit grant (response_type=token)" }
                }
                div.actions { button.primary type="submit" { "Save" } }
            }
        }
        section.card aria-labelledby="secrets-heading" {
            h2 #secrets-heading { "Client secrets" }
            p.hint { @if secrets.is_empty() { "None: this is a public client, which must use PKCE." } @else { "A client with a secret authenticates with it (HTTP Basic) when redeeming codes." } }
            ul #secrets {
                @for secret in &secrets {
                    li { "Created " (when_html(secret.created_at)) " by " (secret.created_by) " "
                        form.inline method="post" action=(format!("{action}/secrets/{}/delete", secret.id))
                            data-confirm="Delete this client secret? Requests that send it are refused at once." {
                            (csrf_field(csrf)) button.danger type="submit" { "Delete" } } }
                }
            }
            form.inline method="post" action=(format!("{action}/secrets")) {
                (csrf_field(csrf)) button.secondary type="submit" #add-secret { "Add a client secret" }
            }
        }
        section.card aria-labelledby="rsa-heading" {
            h2 #rsa-heading { "RSA keys (JWT Grant)" }
            p.hint { "At most five. Assertions are checked against each of them." }
            ul #rsa-keys {
                @for rsa in &rsa_keys {
                    li { "SHA-256 " code.wrap { (rsa.fingerprint) } " · added " (when_html(rsa.created_at)) " "
                        form.inline method="post" action=(format!("{action}/rsa-keys/{}/delete", rsa.id))
                            data-confirm="Delete this RSA key? Assertions signed with it are refused from now on." {
                            (csrf_field(csrf)) button.danger type="submit" { "Delete" } } }
                }
            }
            form.inline method="post" action=(format!("{action}/rsa-keys")) {
                (csrf_field(csrf)) input type="hidden" name="generate" value="true";
                button.secondary type="submit" #generate-rsa-key { "Generate a key pair" }
            }
            form.stack method="post" action=(format!("{action}/rsa-keys")) {
                (csrf_field(csrf))
                div.field { label for="public_key_pem" { "Or upload a public key (PEM)" }
                    textarea #public_key_pem name="public_key_pem" rows="5" {} }
                div.actions { button.secondary type="submit" { "Upload public key" } }
            }
        }
        section.card aria-labelledby="consent-heading" {
            h2 #consent-heading { "Consent for your organization" }
            p.hint { "The JWT Grant acts for a user only with consent: theirs, or this one given for them. "
                @match &consent { Some(record) => { "Last set " (when_html(record.granted_at)) " by " (record.granted_by) "." } None => { "None given yet." } } }
            form.stack method="post" action=(format!("{action}/consent")) {
                (csrf_field(csrf))
                fieldset { legend { "Scopes" }
                    @for (scope, name) in Scopes::ALL {
                        div.field.checkbox {
                            input id=(format!("scope-{name}")) type="checkbox" name="scopes" value=(name) checked[consent_scopes.contains(scope)];
                            label for=(format!("scope-{name}")) { (name) }
                        }
                    }
                }
                fieldset { legend { "Users" }
                    div.field.checkbox {
                        input #consent-all type="radio" name="users" value="all" checked[matches!(consent_users, Some(ConsentUsers::All))];
                        label for="consent-all" { "Every user of the organization" }
                    }
                    div.field.checkbox {
                        input #consent-listed type="radio" name="users" value="listed" checked[!matches!(consent_users, Some(ConsentUsers::All))];
                        label for="consent-listed" { "Only the users chosen below" }
                    }
                    div.field {
                        label for="consent-user-ids" { "Users" }
                        select #consent-user-ids name="user_ids" multiple size="6" {
                            @for user in &users {
                                @let chosen = matches!(consent_users, Some(ConsentUsers::Listed(listed)) if listed.contains(&user.id));
                                option value=(user.id) selected[chosen] { (user.email) }
                            }
                        }
                    }
                }
                div.actions { button.primary type="submit" #save-consent { "Save consent" } }
            }
        }
        p { a href="/console/integrator-keys" { "Back to integrator keys" } }
    };
    Ok(layout::html(
        status,
        layout::page(
            &admin.session,
            Some(Section::IntegratorKeys),
            &format!("OAuth client {}", key.name),
            "oauth-client",
            body,
        ),
    ))
}

/// Renders the page with a refusal of the operation, or passes other errors on.
async fn refused(state: &AppState, admin: &Admin, id: IntegratorKeyId, error: OpError) -> Reply {
    let message = match error {
        OpError::Invalid { detail, .. } | OpError::Conflict { detail, .. } => detail,
        other => return Err(other.into()),
    };
    let shown = Shown {
        error: Some(message),
        ..Shown::default()
    };
    render(state, admin, id, shown, StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST …/oauth/client`: redirect URIs and the implicit grant.
pub async fn save_client(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = &posted.who;
    let uris: Vec<String> = posted
        .form
        .text("redirect_uris")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let implicit = posted.form.get("allow_implicit") == Some("true");
    match state
        .ops()
        .set_oauth_client(&admin.actor, id, Some(&uris), Some(implicit))
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?saved=1", path_of(id)))),
        Err(error) => refused(&state, admin, id, error).await,
    }
}

/// `POST …/oauth/secrets`: a new client secret, shown once.
pub async fn add_secret(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = &posted.who;
    match state.ops().add_oauth_secret(&admin.actor, id).await {
        Ok((_, secret)) => {
            let shown = Shown {
                secret: Some(secret.expose().to_owned()),
                ..Shown::default()
            };
            render(&state, admin, id, shown, StatusCode::CREATED).await
        }
        Err(error) => refused(&state, admin, id, error).await,
    }
}

/// `POST …/oauth/secrets/{secret_id}/delete`.
pub async fn delete_secret(
    State(state): State<AppState>,
    id: PostedId<(IntegratorKeyId, OAuthSecretId)>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId((id, secret)) = id?;
    let admin = &posted.who;
    state
        .ops()
        .delete_oauth_secret(&admin.actor, id, secret)
        .await?;
    Ok(see_other(&format!("{}?deleted=1", path_of(id))))
}

/// `POST …/oauth/rsa-keys`: generate a pair (private key shown once) or upload a public key.
pub async fn add_rsa_key(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = &posted.who;
    let new = if posted.form.get("generate") == Some("true") {
        NewRsaKey::Generate
    } else {
        NewRsaKey::Upload(posted.form.text("public_key_pem"))
    };
    match state.ops().add_oauth_rsa_key(&admin.actor, id, new).await {
        Ok((_, private)) => {
            let shown = Shown {
                notice: Some("The RSA key was added.".into()),
                private_key: private.map(|pem| pem.as_str().to_owned()),
                ..Shown::default()
            };
            render(&state, admin, id, shown, StatusCode::CREATED).await
        }
        Err(error) => refused(&state, admin, id, error).await,
    }
}

/// `POST …/oauth/rsa-keys/{key_id}/delete`.
pub async fn delete_rsa_key(
    State(state): State<AppState>,
    id: PostedId<(IntegratorKeyId, OAuthRsaKeyId)>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId((id, rsa)) = id?;
    let admin = &posted.who;
    state
        .ops()
        .delete_oauth_rsa_key(&admin.actor, id, rsa)
        .await?;
    Ok(see_other(&format!("{}?deleted=1", path_of(id))))
}

/// `POST …/oauth/consent`: the organization's consent.
pub async fn save_consent(
    State(state): State<AppState>,
    id: PostedId<IntegratorKeyId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = &posted.who;
    let scopes: Vec<String> = posted.form.all("scopes").map(str::to_owned).collect();
    let users = if posted.form.get("users") == Some("all") {
        ConsentUsers::All
    } else {
        let mut listed = Vec::new();
        for text in posted.form.all("user_ids") {
            listed.push(
                UserId::parse(text).ok_or(super::layout::ConsoleError::BadRequest(
                    "a chosen user is not a user id",
                ))?,
            );
        }
        ConsentUsers::Listed(listed)
    };
    match state
        .ops()
        .put_admin_consent(&admin.actor, id, &scopes, users)
        .await
    {
        Ok(_) => Ok(see_other(&format!("{}?consent=1", path_of(id)))),
        Err(error) => refused(&state, admin, id, error).await,
    }
}

/// The console link to a key's OAuth page.
pub fn link(key: &IntegratorKey) -> Markup {
    html! { a.button.secondary href=(path_of(key.id)) { "OAuth settings" } }
}
