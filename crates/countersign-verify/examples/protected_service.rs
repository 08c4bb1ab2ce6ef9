//! A protected service that verifies countersign tokens in-process.
//!
//! ```sh
//! COUNTERSIGN_DATABASE_URL=sqlite://countersign.db cargo run -p countersign-verify --example protected_service
//! curl -H "Authorization: bearer $TOKEN" http://127.0.0.1:3000/envelopes
//! ```
#![expect(clippy::print_stdout, reason = "an example prints where it listens")]

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use countersign_verify::{Verified, Verifier};

#[derive(Clone, FromRef)]
struct AppState {
    verifier: Verifier,
}

async fn envelopes(Verified(identity): Verified) -> String {
    format!(
        "envelopes of account {} for {} (via {})\n",
        identity.account_number.as_deref().unwrap_or("(none)"),
        identity
            .user_email
            .as_deref()
            .unwrap_or("the integration itself"),
        identity.actor
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("COUNTERSIGN_DATABASE_URL")
        .unwrap_or_else(|_| "sqlite://countersign.db".into());
    let verifier = Verifier::connect(&url, None).await?;
    let app = Router::new()
        .route("/envelopes", get(envelopes))
        .with_state(AppState { verifier });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000");
    axum::serve(listener, app).await?;
    Ok(())
}
