//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Document-level metadata; the paths come from the router, except Envoy's forward-auth path,
/// which is routed by hand (a wildcard path and every method), and `/oauth/auth`, which the
/// console's router serves (it hands over to the console's sign-in and consent pages).
#[derive(OpenApi)]
#[openapi(
    paths(crate::routes::forward::verify_envoy, crate::console::oauth::entry),
    info(title = "countersign", description = "Authentication server for multi-tenant document-signing APIs."),
    modifiers(&BearerScheme),
    tags(
        (name = "assuresign", description = "AssureSign DocumentNOW v3 API users and tokens"),
        (name = "docusign", description = "DocuSign legacy X-DocuSign-Authentication"),
        (name = "forward-auth", description = "Identity for the protected API"),
        (name = "oauth", description = "DocuSign OAuth 2.0: JWT Grant, Authorization Code Grant, user info"),
        (name = "admin", description = "Administration"),
        (name = "operations", description = "Health"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Introspection clients (RFC 6749 §2.3.1); `client_secret_post` sends the same
        // credentials as form fields, which OpenAPI has no scheme for.
        components.add_security_scheme(
            "client_secret_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}
