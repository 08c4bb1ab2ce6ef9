//! The authorization request of `GET /oauth/auth` (SPEC §12), read and checked in the order
//! RFC 6749 §4.1.2.1 asks: what cannot be trusted with a redirect (an unknown client, a
//! `redirect_uri` that is not registered exactly, an unreadable request) is refused with a page
//! and never redirected; everything else is answered at the registered `redirect_uri` with
//! `error=…` (in the fragment for the implicit grant). Shared by the entry point and the
//! console's consent page, which checks the request again on every step.

use crate::state::AppState;
use countersign_core::directory::IntegratorKey;
use countersign_core::oauth::{Scopes, pkce};
use std::sync::Arc;

/// Longest `state` carried back to the client.
pub const MAX_STATE_LEN: usize = 1_024;

/// `response_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseType {
    /// Authorization Code Grant.
    Code,
    /// Implicit grant.
    Token,
}

/// A checked authorization request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// What the client asks for.
    pub response_type: ResponseType,
    /// The integrator key string.
    pub client_id: String,
    /// The registered redirect URI named.
    pub redirect_uri: String,
    /// The scopes asked for.
    pub scopes: Scopes,
    /// The client's state, carried back.
    pub state: Option<String>,
    /// The PKCE challenge (`S256`).
    pub code_challenge: Option<String>,
    /// `prompt=login`: sign in again even with a session.
    pub prompt_login: bool,
    /// `prompt=consent`: show the consent page even when consent exists.
    pub prompt_consent: bool,
}

/// Why an authorization request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Shown as a 400 page; the client is not redirected to.
    Page(&'static str),
    /// Sent back to the client's registered redirect URI.
    Redirect(String),
}

/// A request that passed: the request and its integrator key.
#[derive(Debug)]
pub struct Checked {
    /// The request.
    pub request: AuthorizationRequest,
    /// The integrator key.
    pub integrator_key: Arc<IntegratorKey>,
}

/// `redirect_uri` with `pairs` added to its query, or to its fragment for the implicit grant.
pub fn redirect_to(redirect_uri: &str, in_fragment: bool, pairs: &[(&str, &str)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return redirect_uri.to_owned();
    };
    if in_fragment {
        let fragment = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        url.set_fragment(Some(&fragment));
    } else {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    url.into()
}

/// The source a page's `form-action` must allow for a form whose answer redirects to
/// `redirect_uri`: its origin, or its scheme for a private-use scheme.
pub fn form_action_source(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme => Some(format!("{scheme}:")),
    }
}

impl AuthorizationRequest {
    /// The request as query parameters (for the next step of the flow).
    pub fn to_query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair(
            "response_type",
            match self.response_type {
                ResponseType::Code => "code",
                ResponseType::Token => "token",
            },
        );
        query.append_pair("scope", &self.scopes.text());
        query.append_pair("client_id", &self.client_id);
        query.append_pair("redirect_uri", &self.redirect_uri);
        if let Some(state) = &self.state {
            query.append_pair("state", state);
        }
        if let Some(challenge) = &self.code_challenge {
            query.append_pair("code_challenge", challenge);
            query.append_pair("code_challenge_method", "S256");
        }
        if self.prompt_consent {
            query.append_pair("prompt", "consent");
        }
        query.finish()
    }

    /// An error answer at the client's redirect URI.
    pub fn error(&self, error: &str, description: &str) -> String {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(state) = &self.state {
            pairs.push(("state", state));
        }
        redirect_to(
            &self.redirect_uri,
            self.response_type == ResponseType::Token,
            &pairs,
        )
    }
}

/// Checks an authorization request's parameters (each at most once, already decoded).
///
/// # Errors
/// The refusal: a page, or a redirect with `error`.
pub async fn check(state: &AppState, parameters: &[(String, String)]) -> Result<Checked, Refusal> {
    let get = |name: &str| {
        parameters
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    };
    let client_id = get("client_id").ok_or(Refusal::Page("The request names no client_id."))?;
    let integrator_key = state
        .cache
        .integrator_key(&state.store, client_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "store failure at /oauth/auth");
            Refusal::Page("The authorization service is unavailable; try again later.")
        })?
        .filter(|key| key.is_active())
        .ok_or(Refusal::Page(
            "The client_id is not an active integration of this service.",
        ))?;
    let redirect_uri = get("redirect_uri")
        .filter(|uri| integrator_key.redirect_uris.iter().any(|r| r == uri))
        .ok_or(Refusal::Page(
            "The redirect_uri is not registered for this integration.",
        ))?;
    let mut request = AuthorizationRequest {
        response_type: ResponseType::Code,
        client_id: integrator_key.key.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes: Scopes::none(),
        state: None,
        code_challenge: None,
        prompt_login: false,
        prompt_consent: false,
    };
    // `state` first: every error sent back to the redirect URI carries it (RFC 6749 §4.1.2.1).
    match get("state") {
        Some(value) if value.len() > MAX_STATE_LEN => {
            return Err(Refusal::Redirect(
                request.error("invalid_request", "state is longer than 1024 characters"),
            ));
        }
        value => request.state = value.map(str::to_owned),
    }
    request.response_type = match get("response_type") {
        Some("token") => ResponseType::Token,
        Some("code") => ResponseType::Code,
        None => {
            return Err(Refusal::Redirect(
                request.error("invalid_request", "response_type is required"),
            ));
        }
        Some(_) => {
            return Err(Refusal::Redirect(request.error(
                "unsupported_response_type",
                "response_type must be code (or token where the integration allows it)",
            )));
        }
    };
    if request.response_type == ResponseType::Token && !integrator_key.allow_implicit {
        return Err(Refusal::Redirect(request.error(
            "unauthorized_client",
            "this integration may not use the implicit grant",
        )));
    }
    request.scopes = Scopes::parse(get("scope").unwrap_or(""))
        .ok()
        .filter(|scopes| !scopes.is_empty())
        .ok_or_else(|| {
            Refusal::Redirect(request.error(
                "invalid_scope",
                "scope must name known scopes (signature, impersonation, extended, openid)",
            ))
        })?;
    match (get("code_challenge"), get("code_challenge_method")) {
        (None, None) => {}
        (Some(challenge), Some("S256")) if pkce::is_valid_challenge(challenge) => {
            request.code_challenge = Some(challenge.to_owned());
        }
        _ => {
            return Err(Refusal::Redirect(request.error(
                "invalid_request",
                "PKCE needs code_challenge (base64url SHA-256) with code_challenge_method=S256",
            )));
        }
    }
    match get("prompt") {
        None => {}
        Some("login") => request.prompt_login = true,
        Some("consent") => request.prompt_consent = true,
        Some(_) => {
            return Err(Refusal::Redirect(
                request.error("invalid_request", "prompt may be login or consent"),
            ));
        }
    }
    let is_public = state
        .store
        .list_oauth_secret_digests(integrator_key.id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "store failure at /oauth/auth");
            Refusal::Page("The authorization service is unavailable; try again later.")
        })?
        .is_empty();
    if is_public && request.response_type == ResponseType::Code && request.code_challenge.is_none()
    {
        return Err(Refusal::Redirect(request.error(
            "invalid_request",
            "this integration is a public client: send a PKCE code_challenge (S256)",
        )));
    }
    Ok(Checked {
        request,
        integrator_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_go_into_the_query_or_the_fragment() {
        assert_eq!(
            redirect_to(
                "https://app.example.com/cb?x=1",
                false,
                &[("code", "c d"), ("state", "s&t")]
            ),
            "https://app.example.com/cb?x=1&code=c+d&state=s%26t"
        );
        assert_eq!(
            redirect_to(
                "http://127.0.0.1:9/cb",
                true,
                &[("access_token", "t"), ("token_type", "bearer")]
            ),
            "http://127.0.0.1:9/cb#access_token=t&token_type=bearer"
        );
        assert_eq!(
            form_action_source("https://app.example.com:8443/cb?x").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            form_action_source("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
    }
}
