//! The endpoints: read-only views of the latest snapshot.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::Sources;
use crate::engine::{Health, Snapshot};
use crate::report::metrics::{self, Exposition};

/// The router: `/metrics`, `/healthz`, `/readyz`, `/snapshot`; `GET` and `HEAD` only.
pub fn router(sources: Sources) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/snapshot", get(snapshot))
        .fallback(not_found)
        .with_state(sources)
}

fn text(status: StatusCode, body: String) -> Response {
    let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Runs `f` on the blocking pool: rendering a large cluster takes milliseconds of CPU, which
/// must not sit on a worker thread the engine's probes need.
async fn off_the_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

fn failed() -> Response {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "rendering failed\n".into(),
    )
}

async fn metrics(State(s): State<Sources>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Exposition::negotiate(accept);
    let snapshot = s.snapshots.borrow().clone();
    let tally = s.tally.get();
    let shard = s.shard;
    match off_the_runtime(move || metrics::render(snapshot, tally, shard, format)).await {
        Some(body) => {
            let content_type = HeaderValue::from_static(format.content_type());
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => failed(),
    }
}

async fn healthz(State(s): State<Sources>) -> Response {
    // The engine owns the sending side: once it stopped (or panicked), the channel is closed.
    match s.snapshots.has_changed() {
        Ok(_) => text(StatusCode::OK, "ok\n".into()),
        Err(_) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine stopped\n".into(),
        ),
    }
}

/// Why the instance is not ready yet, `None` when it is: a config applied, and every node probed
/// at least once (a node added by a reload makes it unready until its first probe).
pub fn unready(snapshot: &Snapshot) -> Option<String> {
    if snapshot.config.generation == 0 {
        return Some("no config applied yet".into());
    }
    let waiting = snapshot
        .nodes()
        .filter(|n| n.health == Health::Unknown)
        .count();
    (waiting > 0).then(|| {
        format!(
            "waiting for the first probe of {}",
            crate::text::plural(waiting, "node")
        )
    })
}

async fn readyz(State(s): State<Sources>) -> Response {
    let snapshot = s.snapshots.borrow().clone();
    match unready(&snapshot) {
        None => text(StatusCode::OK, "ready\n".into()),
        Some(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn snapshot(State(s): State<Sources>) -> Response {
    let snapshot: Arc<Snapshot> = s.snapshots.borrow().clone();
    let json = off_the_runtime(move || {
        let mut out = Vec::new();
        crate::report::write_check_json(&mut out, &snapshot).map(|()| out)
    })
    .await;
    match json {
        Some(Ok(body)) => {
            let content_type = HeaderValue::from_static("application/json");
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        _ => failed(),
    }
}

async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "not found: /metrics, /healthz, /readyz, /snapshot\n".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::serve::SharedTally;
    use crate::shard::Shard;
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tokio::sync::watch;
    use tower::ServiceExt as _;

    fn sources(s: Snapshot) -> (watch::Sender<Arc<Snapshot>>, Sources) {
        let (tx, snapshots) = watch::channel(Arc::new(s));
        let sources = Sources {
            snapshots,
            tally: SharedTally::default(),
            shard: Shard::ALL,
        };
        (tx, sources)
    }

    async fn call(
        sources: &Sources,
        method: Method,
        path: &str,
        accept: Option<&str>,
    ) -> (StatusCode, String, String) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        let res = router(sources.clone())
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = axum::body::to_bytes(res.into_body(), 64 << 20)
            .await
            .unwrap();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn metrics_negotiate_their_format() {
        let (_tx, s) = sources(fixtures::rotation());
        let (status, ct, body) = call(&s, Method::GET, "/metrics", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8");
        assert!(body.contains("# TYPE rotascope_probes_total counter"));
        let om = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5";
        let (status, ct, body) = call(&s, Method::GET, "/metrics", Some(om)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(ct.starts_with("application/openmetrics-text; version=1.0.0"));
        assert!(body.ends_with("# EOF\n"));
    }

    #[tokio::test]
    async fn snapshot_is_the_check_document() {
        let (_tx, s) = sources(fixtures::rotation());
        let (status, ct, body) = call(&s, Method::GET, "/snapshot", None).await;
        assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/json"));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["status"], "down");
        assert_eq!(v["islands"][0]["nodes"][1]["health"], "degraded");
    }

    #[tokio::test]
    async fn readiness_waits_for_every_node_and_health_for_the_engine() {
        let mut s0 = fixtures::rotation();
        s0.islands[0].nodes[0].health = Health::Unknown;
        let (tx, s) = sources(s0);
        let (status, _, body) = call(&s, Method::GET, "/readyz", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "waiting for the first probe of 1 node\n");
        tx.send(Arc::new(fixtures::rotation())).unwrap();
        let (status, _, body) = call(&s, Method::GET, "/readyz", None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ready\n"));
        let (status, _, _) = call(&s, Method::GET, "/healthz", None).await;
        assert_eq!(status, StatusCode::OK);
        drop(tx);
        let (status, _, body) = call(&s, Method::GET, "/healthz", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "the engine stopped\n");
    }

    #[tokio::test]
    async fn nothing_but_get_and_head_and_no_password_anywhere() {
        let (_tx, s) = sources(fixtures::hostile());
        for path in ["/metrics", "/healthz", "/readyz", "/snapshot"] {
            for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
                let (status, _, _) = call(&s, method.clone(), path, None).await;
                assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            }
            let (status, _, body) = call(&s, Method::HEAD, path, None).await;
            assert!(status.is_success() || status == StatusCode::SERVICE_UNAVAILABLE);
            assert!(body.is_empty(), "HEAD {path}");
            let (_, _, body) = call(&s, Method::GET, path, None).await;
            fixtures::assert_no_password(&body);
        }
        let (status, _, _) = call(&s, Method::GET, "/", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = call(&s, Method::GET, "/metrics/../snapshot", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
