//! Sending a request and reading its answer in one step: a test that cannot reach its own
//! server, or gets a body it cannot read, has failed, so these panic instead of returning
//! errors every caller would unwrap.

use reqwest::{RequestBuilder, Response};
use serde_json::Value;

/// Sends a request built with reqwest and waits for the answer.
pub trait Call {
    /// The response; panics when the request could not be sent.
    fn call(self) -> impl Future<Output = Response> + Send;
}

impl Call for RequestBuilder {
    async fn call(self) -> Response {
        self.send().await.unwrap()
    }
}

/// Reads a whole response body.
pub trait Read {
    /// The body as JSON; panics when it is not JSON.
    fn value(self) -> impl Future<Output = Value> + Send;
    /// The body as text; panics when it is not UTF-8.
    fn body(self) -> impl Future<Output = String> + Send;
}

impl Read for Response {
    async fn value(self) -> Value {
        self.json().await.unwrap()
    }

    async fn body(self) -> String {
        self.text().await.unwrap()
    }
}

/// The value of a response header as text; empty when the header is absent. Panics when it is
/// not UTF-8 (countersign writes ASCII).
pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
