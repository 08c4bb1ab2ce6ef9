//! HTTP handlers of the authentication surface: the AssureSign and DocuSign dialects, forward
//! auth, introspection and operations endpoints.

pub mod assuresign;
pub mod docs;
pub mod docusign;
pub mod forward;
pub mod health;
pub mod introspect;
pub mod leaks;
pub mod oauth;
