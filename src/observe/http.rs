//! The optional HTTP listener (`RSENTINEL_HTTP_ADDR=host:port`): `/metrics`
//! (OpenMetrics text), `/` (the live page, embedded), `/api/topology` and
//! `/api/events?since=N` (JSON). hyper 1 serves HTTP/1.1 on the tokio
//! runtime we already run; nothing here can stall the decision loop, which
//! it only reaches through the same request channel clients use.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::driver::handle::CoreHandle;
use crate::server::ServerState;

/// The environment variable that turns the listener on.
pub const ADDR_VAR: &str = "RSENTINEL_HTTP_ADDR";

const PAGE: &str = include_str!("page.html");

/// How long a client may take to send its request headers.
const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{ADDR_VAR}={0:?} is not a host:port address")]
    BadAddress(String),
    #[error("{ADDR_VAR}={addr:?}: cannot listen: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// The listener `RSENTINEL_HTTP_ADDR` asks for; `None` when it is unset or
/// empty (the default: no HTTP at all).
pub async fn bind_from_env() -> Result<Option<TcpListener>, HttpError> {
    let addr = std::env::var(ADDR_VAR).unwrap_or_default();
    if addr.is_empty() {
        return Ok(None);
    }
    let listener = bind(&addr).await?;
    tracing::info!("HTTP (metrics, page, API) listening on {addr}");
    Ok(Some(listener))
}

/// Binds `addr` (`host:port`, the port required). Called at start-up so a
/// bad address stops the process before it serves anything.
pub async fn bind(addr: &str) -> Result<TcpListener, HttpError> {
    let bad = || HttpError::BadAddress(addr.to_string());
    let (host, port) = addr.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    TcpListener::bind((host, port))
        .await
        .map_err(|source| HttpError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// What every request handler needs.
struct Shared {
    core: CoreHandle,
    state: Arc<ServerState>,
    /// One scrape at a time refreshes the per-master gauges.
    scrape: tokio::sync::Mutex<()>,
}

/// Serves until the process ends.
pub async fn serve(listener: TcpListener, core: CoreHandle, state: Arc<ServerState>) {
    let shared = Arc::new(Shared {
        core,
        state,
        scrape: tokio::sync::Mutex::new(()),
    });
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: back off instead of
                // spinning on the same error.
                tracing::debug!("HTTP accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(route(&shared, req).await) }
            });
            // A client that never finishes its headers is dropped.
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("HTTP connection: {e}");
            }
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let headers = r.headers_mut();
    if let Ok(v) = content_type.parse() {
        headers.insert(CONTENT_TYPE, v);
    }
    headers.insert(
        CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-store"),
    );
    r
}

const JSON: &str = "application/json";

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    }
    let observer = super::observer();
    let path = req.uri().path();
    let known = ["/", "/metrics", "/api/topology", "/api/events"].contains(&path);
    observer
        .metrics
        .http_requests
        .get_or_create(&super::metrics::labels(&[(
            "path",
            if known { path } else { "other" },
        )]))
        .inc();
    match path {
        "/" => {
            let initial = serde_json::json!({
                "topology": topology_json(&shared.core).await,
                "events": events_json(0),
            });
            // Inside <script>: "</" must not close the element.
            let inline = initial.to_string().replace("</", "<\\/");
            let page = PAGE.replacen("null /*INITIAL*/", &inline, 1);
            reply(StatusCode::OK, "text/html; charset=utf-8", page)
        }
        "/metrics" => {
            let _one = shared.scrape.lock().await;
            let topo = super::topology::snapshot(&shared.core).await;
            let text = observer.metrics.render(&topo, shared.state.clients.len());
            reply(
                StatusCode::OK,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
                text,
            )
        }
        "/api/topology" => reply(
            StatusCode::OK,
            JSON,
            topology_json(&shared.core).await.to_string(),
        ),
        "/api/events" => match since(req.uri().query()) {
            Some(since) => {
                wait_for_news(since, param(req.uri().query(), "wait").unwrap_or(0)).await;
                reply(StatusCode::OK, JSON, events_json(since).to_string())
            }
            None => reply(
                StatusCode::BAD_REQUEST,
                JSON,
                r#"{"error":"since must be a non-negative integer"}"#,
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// `/api/topology`: the snapshot plus the highest epoch seen.
async fn topology_json(core: &CoreHandle) -> serde_json::Value {
    let topo = super::topology::snapshot(core).await;
    let mut body = serde_json::to_value(&topo).unwrap_or_default();
    body["current_epoch"] = super::observer().metrics.current_epoch().into();
    body
}

/// `/api/events`: the events after `since` and the newest sequence number.
fn events_json(since: u64) -> serde_json::Value {
    let t = super::observer().timeline();
    serde_json::json!({ "last_seq": t.last_seq(), "events": t.since(since) })
}

/// Longest long poll a client may ask for.
const MAX_WAIT_MS: u64 = 10_000;

/// Holds an `/api/events` request until an event after `since` exists, at
/// most `wait_ms`, so the page sees a failover step as it happens.
async fn wait_for_news(since: u64, wait_ms: u64) {
    let observer = super::observer();
    let notified = observer.news.notified();
    tokio::pin!(notified);
    // Registered before the check, so an event in between still wakes us.
    notified.as_mut().enable();
    if wait_ms == 0 || observer.timeline().last_seq() > since {
        return;
    }
    let wait = std::time::Duration::from_millis(wait_ms.min(MAX_WAIT_MS));
    let _ = tokio::time::timeout(wait, notified).await;
}

/// The value of `name=` in a query string.
fn param(query: Option<&str>, name: &str) -> Option<u64> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

/// `since=N` from the query string; 0 when absent, `None` when malformed.
fn since(query: Option<&str>) -> Option<u64> {
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="));
    match value {
        None => Some(0),
        Some(v) => v.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_optional_but_must_be_a_number() {
        assert_eq!(since(None), Some(0));
        assert_eq!(since(Some("since=42")), Some(42));
        assert_eq!(since(Some("x=1&since=7")), Some(7));
        assert_eq!(since(Some("since=-1")), None);
        assert_eq!(since(Some("since=abc")), None);
    }

    #[tokio::test]
    async fn bad_addresses_are_refused_before_listening() {
        for addr in [
            "nonsense",
            "127.0.0.1",
            "127.0.0.1:99999",
            ":9000",
            "127.0.0.1:x",
        ] {
            assert!(
                matches!(bind(addr).await, Err(HttpError::BadAddress(_))),
                "{addr}"
            );
        }
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        assert!(matches!(bind(&addr).await, Err(HttpError::Bind { .. })));
    }
}
