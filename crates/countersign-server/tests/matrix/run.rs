//! Sending requests with bounded concurrency and reading the answers as `Actual` outcomes.

use super::*;
pub(crate) use countersign_test_support::header;
use countersign_test_support::{Call as _, Read as _};

// ---------------------------------------------------------------------------------------------
// Running requests with bounded concurrency.

pub(crate) async fn run_bounded<T, R, F, Fut>(items: Arc<Vec<T>>, work: F) -> Vec<R>
where
    T: Send + Sync + 'static,
    R: Send + 'static,
    F: Fn(Arc<Vec<T>>, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (items, next, work) = (items.clone(), next.clone(), work.clone());
        workers.push(tokio::spawn(async move {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= items.len() {
                    return done;
                }
                done.push((index, work(items.clone(), index).await));
            }
        }));
    }
    let mut results: Vec<Option<R>> = (0..items.len()).map(|_| None).collect();
    for worker in workers {
        for (index, result) in worker.await.unwrap() {
            results[index] = Some(result);
        }
    }
    results.into_iter().map(Option::unwrap).collect()
}

/// Requests the server answered from a worker thread's cache, from its metrics.
pub(crate) async fn thread_cache_answers(app: &TestApp) -> u64 {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .body()
        .await;
    text.lines()
        .find(|line| line.starts_with("countersign_thread_cache_answers_total"))
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

pub(crate) async fn refusal_of(response: reqwest::Response, stage: &'static str) -> Actual {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Actual::Refuse {
        status,
        code: body["errorCode"].as_str().unwrap_or_default().to_owned(),
        stage,
    }
}

pub(crate) async fn verify(
    client: &reqwest::Client,
    url: &str,
    headers: &[(&'static str, String)],
    uri: &UriHeaders,
) -> Actual {
    let mut request = client.get(url);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    for (name, value) in uri {
        request = request.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let response = request.call().await;
    if response.status() != StatusCode::OK {
        return refusal_of(response, "verify").await;
    }
    Actual::Grant(Grant {
        organization_id: header(&response, "x-countersign-organization"),
        environment_id: header(&response, "x-countersign-environment"),
        account_id: header(&response, "x-countersign-account"),
        account_number: header(&response, "x-countersign-account-number"),
        user_id: header(&response, "x-countersign-user-id"),
        actor: header(&response, "x-countersign-actor"),
        method: header(&response, "x-countersign-auth-method"),
    })
}

/// The outcome of a token exchange: the token, or the refusal.
pub(crate) async fn exchange(
    client: &reqwest::Client,
    base: &str,
    version: usize,
    credential: (&str, &str),
    context_username: &str,
) -> Result<String, Actual> {
    let response = client
        .post(format!("{base}/api/v3.{version}/authentication/apiUser"))
        .json(
            &json!({"request": {"apiUsername": credential.0, "key": credential.1,
                                  "contextUsername": context_username}}),
        )
        .call()
        .await;
    if response.status() != StatusCode::OK {
        return Err(refusal_of(response, "token exchange").await);
    }
    let body: Value = response.value().await;
    Ok(body["token"].as_str().unwrap().to_owned())
}
