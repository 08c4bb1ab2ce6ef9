//! Request ids: `<random process prefix>-<thread>-<sequence>`, unique per node.

use crate::secrets::random_bytes;
use std::sync::Arc;

/// Request ids `<random process prefix>-<thread>-<sequence>`: unique per node without a system
/// call per request (a UUID v4 per request showed up in the profile as `getrandom`) and without
/// a counter shared by every worker thread.
#[derive(Clone, Debug)]
pub(crate) struct SequentialRequestId {
    prefix: Arc<str>,
}

impl Default for SequentialRequestId {
    fn default() -> Self {
        Self {
            prefix: hex_string().into(),
        }
    }
}

impl SequentialRequestId {
    /// The next request id.
    pub fn next(&self) -> Option<axum::http::HeaderValue> {
        use std::cell::Cell;
        use std::io::Write;
        use std::sync::atomic::{AtomicU64, Ordering};
        static THREADS: AtomicU64 = AtomicU64::new(0);
        thread_local! {
            static SEQUENCE: (u64, Cell<u64>) = (THREADS.fetch_add(1, Ordering::Relaxed), Cell::new(0));
        }
        let (thread, n) = SEQUENCE.with(|(thread, next)| {
            let n = next.get();
            next.set(n.wrapping_add(1));
            (*thread, n)
        });
        // Formatted on the stack: the header value is the request's only allocation here.
        let mut buffer = [0u8; 80];
        let mut cursor = std::io::Cursor::new(&mut buffer[..]);
        write!(cursor, "{}-{thread}-{n}", self.prefix).ok()?;
        let length = usize::try_from(cursor.position()).ok()?;
        axum::http::HeaderValue::from_bytes(&buffer[..length]).ok()
    }
}

impl tower_http::request_id::MakeRequestId for SequentialRequestId {
    fn make_request_id<B>(
        &mut self,
        _request: &axum::http::Request<B>,
    ) -> Option<tower_http::request_id::RequestId> {
        self.next().map(tower_http::request_id::RequestId::new)
    }
}

/// 32 random hexadecimal digits.
pub(crate) fn hex_string() -> String {
    random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
