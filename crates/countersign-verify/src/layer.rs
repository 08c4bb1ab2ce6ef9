//! The tower layer: verifies every request, answers refusals itself, and puts the
//! [`Identity`](crate::Identity) into the request extensions.

use crate::{HeaderText, Verifier, VerifyRequest};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Wraps a service so only verified requests reach it.
#[derive(Clone, Debug)]
pub struct VerifyLayer {
    verifier: Verifier,
}

impl VerifyLayer {
    /// A layer using this verifier.
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

impl<S> tower::Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service [`VerifyLayer`] builds.
#[derive(Clone, Debug)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
}

type Request = axum::http::Request<axum::body::Body>;
type Response = axum::http::Response<axum::body::Body>;

impl<S> tower::Service<Request> for VerifyService<S>
where
    S: tower::Service<Request, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // The clone that was polled ready serves this request; a fresh clone stays for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        // Owned copies taken before the future: the body is not `Sync`, so nothing borrowed
        // from the request may live across an await.
        let owned = |name: &str| match HeaderText::of(request.headers(), name) {
            HeaderText::Absent => None,
            HeaderText::Text(text) => Some(Some(text.to_owned())),
            HeaderText::Unreadable => Some(None),
        };
        let authorization = owned("authorization");
        let user_context = owned("x-as-usercontext");
        let path = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |p| p.as_str().to_owned(),
        );
        Box::pin(async move {
            let verdict = verifier
                .verify(VerifyRequest {
                    authorization: borrowed(authorization.as_ref()),
                    user_context: borrowed(user_context.as_ref()),
                    path: Some(&path),
                })
                .await;
            match verdict {
                Ok(identity) => {
                    request.extensions_mut().insert(identity);
                    inner.call(request).await
                }
                Err(error) => Ok(axum::response::IntoResponse::into_response(error)),
            }
        })
    }
}

/// A header copied before the future (absent, text, or unreadable), read back as [`HeaderText`].
fn borrowed(copy: Option<&Option<String>>) -> HeaderText<'_> {
    match copy {
        None => HeaderText::Absent,
        Some(Some(text)) => HeaderText::Text(text),
        Some(None) => HeaderText::Unreadable,
    }
}
