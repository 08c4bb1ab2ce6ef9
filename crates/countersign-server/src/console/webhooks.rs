//! The console's webhooks pages (SPEC §13): register an endpoint (its signing secret shown
//! once), list and delete endpoints, and read one endpoint's delivery log.

use super::layout::{self, FieldErrors, Reply, Section, TextField, copy_button, when_html};
use super::session::{Admin, Posted, csrf_field, see_other};
use crate::console::layout::{ConsoleId, PostedId};
use crate::ops::OpError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use countersign_core::ids::WebhookId;
use countersign_core::webhook::{EventType, Webhook};
use maud::{Markup, html};

fn webhooks_table(admin: &Admin, webhooks: &[Webhook]) -> Markup {
    let csrf = &admin.session.csrf_token;
    html! {
        @if webhooks.is_empty() {
            p.empty { "No webhooks." }
        } @else {
            div.table-wrap {
                table.list #webhooks {
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Events" } th scope="col" { "Created" } th scope="col" { "Actions" } } }
                    tbody {
                        @for webhook in webhooks {
                            tr {
                                td data-label="URL" { span.wrap { (webhook.url) } }
                                td data-label="Events" { (webhook.events.iter().map(EventType::as_str).collect::<Vec<_>>().join(", ")) }
                                td data-label="Created" { (when_html(webhook.created_at)) }
                                td data-label="Actions" {
                                    a.button.secondary href=(format!("/console/webhooks/{}", webhook.id)) { "Deliveries" }
                                    " "
                                    form.inline method="post" action=(format!("/console/webhooks/{}/delete", webhook.id))
                                        data-confirm=(format!("Delete the webhook to \u{201c}{}\u{201d}? Its pending deliveries are dropped.", webhook.url)) {
                                        (csrf_field(csrf))
                                        button.danger type="submit" { "Delete…" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn create_form(admin: &Admin, url: &str, chosen: &[String], errors: &FieldErrors) -> Markup {
    html! {
        (errors.summary())
        form.stack #create-webhook method="post" action="/console/webhooks" {
            (csrf_field(&admin.session.csrf_token))
            (TextField { name: "url", label: "URL", kind: "url", value: url, error: errors.get("url"), required: true,
                hint: Some(html! { "An https:// address that accepts POSTed Standard Webhooks." }) }.render())
            fieldset #events.invalid[errors.get("events").is_some()] {
                legend { "Events" }
                (layout::field_error("events", errors.get("events")))
                @for kind in EventType::ALL {
                    div.choice {
                        input id=(format!("event-{}", kind.as_str())) type="checkbox" name="events" value=(kind.as_str())
                            checked[chosen.iter().any(|c| c == kind.as_str())];
                        label for=(format!("event-{}", kind.as_str())) { code { (kind.as_str()) } }
                    }
                }
            }
            button.primary type="submit" { "Add webhook" }
        }
    }
}

async fn render(
    state: &AppState,
    admin: &Admin,
    url: &str,
    chosen: &[String],
    errors: &FieldErrors,
    notice: Option<&str>,
    status: StatusCode,
) -> Reply {
    let webhooks = state
        .store
        .list::<Webhook>(admin.actor.organization_id, None, 1000)
        .await?;
    let body = html! {
        (layout::notice(notice))
        section.card aria-labelledby="add-heading" {
            h2 #add-heading { "Add a webhook" }
            (create_form(admin, url, chosen, errors))
        }
        section.card aria-labelledby="list-heading" {
            h2 #list-heading { "Webhooks" }
            (webhooks_table(admin, &webhooks.items))
        }
    };
    Ok(admin.page(status, Section::Webhooks, "Webhooks", "webhooks", body))
}

/// `GET /console/webhooks`: the form and the list.
pub async fn webhooks_page(State(state): State<AppState>, admin: Admin) -> Reply {
    let all: Vec<String> = EventType::ALL.iter().map(|e| e.as_str().into()).collect();
    render(
        &state,
        &admin,
        "",
        &all,
        &FieldErrors::default(),
        None,
        StatusCode::OK,
    )
    .await
}

/// `POST /console/webhooks`: registers a webhook and shows its secret once.
pub async fn create_webhook(State(state): State<AppState>, posted: Posted<Admin>) -> Reply {
    let admin = posted.who;
    let url = posted.form.text("url").trim().to_owned();
    let chosen: Vec<String> = posted.form.all("events").map(str::to_owned).collect();
    let mut errors = FieldErrors::default();
    match state
        .ops()
        .create_webhook(&admin.actor, &url, &chosen)
        .await
    {
        Ok(created) => {
            let body = html! {
                div.warning role="alert" {
                    p { strong { "Copy this signing secret now. It will not be shown again." } }
                    p { "Receivers verify each delivery with it, as any Standard Webhooks library does." }
                }
                div.field {
                    label for="webhook-secret" { "Signing secret for " (created.webhook.url) }
                    div.copy-row {
                        input #webhook-secret type="text" readonly value=(created.secret.expose()) spellcheck="false" autocomplete="off";
                        (copy_button("webhook-secret", "Copy the signing secret"))
                    }
                }
                p { a.button.primary href="/console/webhooks" { "I have copied the secret: back to webhooks" } }
            };
            let mut response = admin.page(
                StatusCode::OK,
                Section::Webhooks,
                "Webhook added",
                "webhook-secret",
                body,
            );
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return Ok(response);
        }
        Err(OpError::Invalid { field, detail }) => {
            let field = if field == "url" { "url" } else { "events" };
            let mut chars = detail.chars();
            let sentence = chars
                .next()
                .map(|c| format!("{}{}.", c.to_uppercase(), chars.as_str()))
                .unwrap_or_default();
            errors.add(field, sentence);
        }
        Err(other) => return Err(other.into()),
    }
    render(
        &state,
        &admin,
        &url,
        &chosen,
        &errors,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// `POST /console/webhooks/{id}/delete`: asks for confirmation, then deletes.
pub async fn delete_webhook(
    State(state): State<AppState>,
    id: PostedId<WebhookId>,
    posted: Posted<Admin>,
) -> Reply {
    let ConsoleId(id) = id?;
    let admin = posted.who;
    let webhook = state.store.fetch(admin.actor.organization_id, id).await?;
    if !posted.form.is_confirmed() {
        let action = format!("/console/webhooks/{id}/delete");
        let message = html! { p { "Delete the webhook to " strong { (webhook.url) } "? Its pending deliveries are dropped." } };
        return Ok(admin.confirm_page(
            Section::Webhooks,
            "Delete webhook?",
            (&action, "/console/webhooks"),
            message,
            "Delete webhook",
        ));
    }
    state.ops().delete_webhook(&admin.actor, id).await?;
    Ok(see_other("/console/webhooks"))
}

/// `GET /console/webhooks/{id}`: the endpoint's delivery log, newest first.
pub async fn deliveries_page(
    State(state): State<AppState>,
    admin: Admin,
    ConsoleId(id): ConsoleId<WebhookId>,
) -> Reply {
    let webhook = state.store.fetch(admin.actor.organization_id, id).await?;
    let deliveries = state.store.list_deliveries(id, None, 200).await?;
    let body = html! {
        p { "Deliveries to " code { (webhook.url) } ", newest first (the last 200 attempts)." }
        @if deliveries.items.is_empty() {
            p.empty { "Nothing delivered yet." }
        } @else {
            div.table-wrap {
                table.list #deliveries {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Event" } th scope="col" { "Attempt" }
                        th scope="col" { "Status" } th scope="col" { "Outcome" } } }
                    tbody {
                        @for delivery in &deliveries.items {
                            tr {
                                td data-label="When" { (when_html(delivery.at)) }
                                td data-label="Event" { code { (delivery.kind.as_str()) } " " span.hint { (delivery.event_id) } }
                                td data-label="Attempt" { (delivery.attempt) }
                                td data-label="Status" { (delivery.status_code.map(|s| s.to_string()).or_else(|| delivery.error.clone()).unwrap_or_else(|| "—".into())) }
                                td data-label="Outcome" { (delivery.outcome.as_str()) }
                            }
                        }
                    }
                }
            }
        }
        p { a.button.secondary href="/console/webhooks" { "Back to webhooks" } }
    };
    Ok(admin.page(
        StatusCode::OK,
        Section::Webhooks,
        "Webhook deliveries",
        "webhook-deliveries",
        body,
    ))
}
