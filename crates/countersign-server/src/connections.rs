//! The accept loop and what a connection may cost (SPEC §9): at most `max_connections` open at
//! once (one more is closed as soon as it is accepted), request headers delivered within
//! `header_read_timeout` and the request's body within as long again, at most
//! `keep_alive_timeout` idle between requests, and an accept loop that backs off and keeps
//! serving when the process runs out of file descriptors.
//!
//! hyper's own header timeout starts when a connection becomes idle, so it would end every
//! keep-alive connection after `header_read_timeout`; the two clocks are kept here instead. Each
//! connection has a phase: `Head` from its first byte (or its accept) until hyper hands the
//! request over, `Busy` while it is served, `Idle` from the response until the next byte. The
//! reader and the service record each phase change in two atomics; a watchdog per connection
//! wakes at the current phase's deadline, and at least once per the shorter timeout, and closes
//! the connection when the deadline of the phase it finds has passed. Nothing wakes it per
//! request: a phase change costs a clock read and two stores, not a notification and a new
//! timer (which measured about 5 % of a forward-auth request's CPU).
//!
//! With TLS (SPEC §8) the handshake runs in the connection's own task, inside the header clock
//! that starts at the accept: a handshake that is too slow is closed like slow headers. The
//! watchdog then sees the decrypted bytes, so the phases mean the same over TLS.
//!
//! Graceful shutdown is `axum::serve`'s: stop accepting, let every connection finish the
//! request it is serving (keep-alive off), then return.

use axum::extract::Request;
use axum::response::Response;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::tls::Tls;

/// What a connection may cost.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time from a request's first byte (or the connection's accept) to its complete headers.
    pub header_read_timeout: Duration,
    /// Time a connection may stay idle between a response and the next request.
    pub keep_alive_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

/// How long the accept loop waits after an error that is not about one connection (out of
/// file descriptors, out of memory) before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Where a connection is in its request cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Reading a request's headers.
    Head = 0,
    /// Serving a request.
    Busy = 1,
    /// Waiting for the next request.
    Idle = 2,
}

/// A connection's phase and when it began, shared by its reader, its service and its watchdog.
#[derive(Debug)]
struct Watch {
    base: Instant,
    phase: AtomicU8,
    /// Start of the current phase, in nanoseconds since `base`.
    since: AtomicU64,
}

impl Watch {
    fn new() -> Self {
        Self {
            base: Instant::now(),
            phase: AtomicU8::new(Phase::Head as u8),
            since: AtomicU64::new(0),
        }
    }

    fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Head,
            1 => Phase::Busy,
            _ => Phase::Idle,
        }
    }

    fn enter(&self, phase: Phase) {
        // `Busy` has no deadline, so its start is never read: no clock read for it.
        if phase != Phase::Busy {
            let elapsed = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.since.store(elapsed, Ordering::Release);
        }
        self.phase.store(phase as u8, Ordering::Release);
    }

    /// Moves from `Idle` to `Head` (a byte of the next request arrived).
    fn on_read(&self) {
        if self
            .phase
            .compare_exchange(
                Phase::Idle as u8,
                Phase::Head as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.enter(Phase::Head);
        }
    }

    /// When the current phase must end, if it has a bound.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let since = self.base + Duration::from_nanos(self.since.load(Ordering::Acquire));
        match self.phase() {
            Phase::Head => Some(since + limits.header_read_timeout),
            Phase::Idle => Some(since + limits.keep_alive_timeout),
            Phase::Busy => None,
        }
    }
}

/// The socket (or its TLS stream), telling its [`Watch`] when bytes arrive.
struct WatchedIo<T> {
    stream: T,
    watch: Arc<Watch>,
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.on_read();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The connection's service as hyper sees it: marks `Busy` when a request's headers are
/// complete and `Idle` when its response is ready, and bounds the time the request's body may
/// take to arrive.
struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
    body_read_timeout: Duration,
}

/// A request body that must arrive whole before its deadline: a client that sends its body a
/// byte at a time gets an error where the handler reads it (a 4xx), instead of holding the
/// connection and a `max_connections` slot without end.
/// The timer starts the first time the body is not ready (a request without a body, or whose
/// body came with its headers, never starts one: no timer per forward-auth request).
struct DeadlineBody {
    inner: hyper::body::Incoming,
    timeout: Duration,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

/// The body did not arrive within the request's deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTooSlow;

/// Whether reading a request's body failed because it did not arrive in time (answered 408),
/// rather than because it is too large.
pub(crate) fn body_too_slow(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyTooSlow>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl hyper::body::Body for DeadlineBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let deadline = this
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTooSlow.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl<S> hyper::service::Service<Request<hyper::body::Incoming>> for Watched<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: Request<hyper::body::Incoming>) -> Self::Future {
        self.watch.enter(Phase::Busy);
        let watch = self.watch.clone();
        let timeout = self.body_read_timeout;
        let request = request.map(|inner| {
            axum::body::Body::new(DeadlineBody {
                inner,
                timeout,
                deadline: None,
            })
        });
        let future = self.inner.clone().call(request);
        Box::pin(async move {
            let response = future.await;
            watch.enter(Phase::Idle);
            response
        })
    }
}

/// Accepts connections until `shutdown` resolves, serves each with the service `make` builds
/// for its peer (over TLS when `tls` is given), then waits for the connections to finish their
/// requests.
pub async fn serve<S>(
    listener: TcpListener,
    make: impl Fn(SocketAddr) -> S,
    limits: Limits,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let max = limits
        .max_connections
        .clamp(1, usize::try_from(u32::MAX).unwrap_or(usize::MAX));
    let open = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors (EMFILE/ENFILE) or memory: the pending connection
                // stays in the backlog; wait for some to close, then accept again.
                tracing::warn!(%error, "accept failed; retrying shortly");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            // Beyond max_connections: closed at once (dropping the stream closes it).
            drop(stream);
            continue;
        };
        let service = make(peer);
        let stopping = stopping.clone();
        // The acceptor is taken now: a reload after this accept does not concern it.
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        tokio::spawn(async move {
            // The header clock starts at the accept, before any handshake.
            let watch = Arc::new(Watch::new());
            match acceptor {
                None => serve_connection(stream, watch, service, limits, stopping).await,
                Some(acceptor) => {
                    let deadline = watch.base + limits.header_read_timeout;
                    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, watch, service, limits, stopping).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!("TLS handshake too slow; closed"),
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it is done.
    let _ = open
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
}

/// Errors that concern one connection only (it went away before it was accepted).
fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::Interrupted
    )
}

async fn serve_connection<S, T>(
    stream: T,
    watch: Arc<Watch>,
    service: S,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
) where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(WatchedIo {
        stream,
        watch: watch.clone(),
    });
    let service = Watched {
        inner: service,
        watch: watch.clone(),
        body_read_timeout: limits.header_read_timeout,
    };
    let connection = hyper::server::conn::http1::Builder::new()
        // The header clock is the watchdog's (see the module comment).
        .header_read_timeout(None)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = *stopping.borrow();
    if closing {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        // The phase may change while the watchdog sleeps: it wakes at least every
        // `min(header_read_timeout, keep_alive_timeout)`, so it sees a new phase before that
        // phase's deadline and then sleeps until exactly that deadline.
        let next_check = Instant::now() + limits.header_read_timeout.min(limits.keep_alive_timeout);
        let wake = watch
            .deadline(&limits)
            .map_or(next_check, |deadline| deadline.min(next_check));
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = tokio::time::sleep_until(wake) => {
                if watch.deadline(&limits).is_some_and(|at| at <= Instant::now()) {
                    // Headers too slow, or idle too long: close (dropping the connection
                    // closes the socket).
                    return;
                }
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    closing = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
