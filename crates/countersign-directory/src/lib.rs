//! What every countersign verifier shares — the server's nodes and the in-process
//! `countersign-verify` crate alike: the epoch-stamped directory caches (`cache`), the directory
//! facts behind a session token (`session`) and an OAuth access token (`oauth`), the server secrets (`secrets`), watching the
//! directory version so a change on any node or from the CLI reaches every cache (`watch`), and
//! the bearer refusals' wire table (`refusal`).
//!
//! Dependencies point one way: core ← store ← directory ← server, verify.
#![warn(missing_docs)]

pub mod cache;
pub mod oauth;
pub mod refusal;
pub mod secrets;
pub mod session;
pub mod watch;
