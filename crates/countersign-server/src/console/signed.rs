//! Who is signed in to the console, and the hidden form field that proves a form came from
//! their page: what the page layout renders and the session extractors produce.

use crate::ops::Actor;
use countersign_core::directory::User;
use maud::html;

/// Name of the hidden field that carries the CSRF token in every console form.
pub const CSRF_FIELD: &str = "csrf_token";

/// A signed-in console user (not necessarily an organization administrator).
#[derive(Debug, Clone)]
pub struct Session {
    /// The signed-in user.
    pub user: User,
    /// Digest of the session token (sign-out deletes the row under it).
    pub digest: String,
    /// The session's CSRF token, echoed by every form.
    pub csrf_token: String,
    /// The client's address.
    pub source_ip: Option<String>,
    /// Leaked-key reports of the organization not yet dismissed: the banner every page shows an
    /// organization administrator (loaded only for them).
    pub leak_reports: Vec<countersign_store::LeakReport>,
}

impl Session {
    /// The user as the actor of directory operations.
    pub fn actor(&self) -> Actor {
        Actor::signed_in(&self.user, self.source_ip.clone())
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> maud::Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}
