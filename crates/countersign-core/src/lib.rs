//! The credential model and the authorization rules of countersign.
//!
//! This crate is pure: it performs no I/O, never reads the clock and never draws random bytes
//! itself. Callers pass `now` and randomness in, which keeps every rule testable exhaustively.
#![warn(missing_docs)]

pub mod access;
pub mod api_user;
pub mod decide;
pub mod directory;
pub mod form;
pub mod ids;
pub mod introspection;
pub mod key;
pub mod legacy;
pub mod lifecycle;
pub mod migration;
pub mod names;
pub mod oauth;
pub mod secret;
pub mod session;
mod signed;
pub mod token;
pub mod uri;
pub mod webhook;
