//! AssureSign `apiUser` request body:
//! `countersign_server::fuzzing::parse_token_request` on arbitrary bytes.
//!
//! Invariants: an accepted request has a non-empty, trimmed API username, key and context
//! username of at most 1024 bytes each and a session length within 1..=max (the default when
//! absent); a refusal is always `BadRequest` with at least one non-empty detail; an accepted
//! request re-encoded as the documented body parses to the same request.
#![no_main]

use countersign_server::fuzzing::{AssureSignError, parse_token_request};
use libfuzzer_sys::fuzz_target;

const DEFAULT_MINUTES: i64 = 60;
const MAX_MINUTES: i64 = 1440;
const MAX_FIELD_BYTES: usize = 1024;

fn check_text(name: &str, value: &str) {
    assert!(!value.is_empty(), "{name} is empty");
    assert_eq!(value, value.trim(), "{name} is not trimmed");
    assert!(value.len() <= MAX_FIELD_BYTES, "{name} is {} bytes", value.len());
}

fuzz_target!(|data: &[u8]| {
    match parse_token_request(data, DEFAULT_MINUTES, MAX_MINUTES) {
        Ok(request) => {
            check_text("apiUsername", &request.api_username);
            check_text("key", request.key.expose());
            check_text("contextUsername", &request.context_username);
            assert!(
                (1..=MAX_MINUTES).contains(&request.session_minutes),
                "session length {}",
                request.session_minutes
            );
            let body = serde_json::json!({"request": {
                "apiUsername": request.api_username,
                "key": request.key.expose(),
                "contextUsername": request.context_username,
                "sessionLengthInMinutes": request.session_minutes,
            }});
            let body = serde_json::to_vec(&body).expect("serializes");
            let again = parse_token_request(&body, DEFAULT_MINUTES, MAX_MINUTES)
                .unwrap_or_else(|error| panic!("re-encoded request refused: {error:?}"));
            assert_eq!(again.api_username, request.api_username);
            assert_eq!(again.key.expose(), request.key.expose());
            assert_eq!(again.context_username, request.context_username);
            assert_eq!(again.session_minutes, request.session_minutes);
        }
        Err(AssureSignError::BadRequest(details)) => {
            assert!(!details.is_empty(), "a refusal without details");
            assert!(details.iter().all(|d| !d.is_empty()));
        }
        Err(other) => panic!("the body parser answered {other:?}"),
    }
});
