//! The daemon's HTTP side: a versioned JSON API (`/api/v1/…`, described in
//! `openapi.json`), the operator's dashboard (server-rendered pages that
//! work without JavaScript), and Prometheus metrics. Everything but
//! `/healthz` needs a token: `Authorization: Bearer TOKEN` for the API and
//! metrics, a cookie set by the login page for the dashboard. `read` tokens
//! see; `operate` tokens also act (holds, incident moves, check now).
//!
//! Reads go to the store directly (a connection per request, off the async
//! threads); actions go through [`Actions`], which the daemon implements
//! with the same code as its CLI.

mod api;
mod metrics;
mod pages;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use sha2::Digest;

pub use metrics::Extra;

/// A mail server the daemon watches.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub name: String,
    pub ips: Vec<String>,
}

/// What the API and the dashboard can make the daemon do. Errors are
/// messages for the operator.
pub trait Actions: Send + Sync + 'static {
    /// One incident with its facts, plans and timeline (`incident show
    /// --json`).
    fn incident(&self, id: i64) -> Result<Option<serde_json::Value>, String>;
    /// Moves an incident: `Ok(Ok(why))`, `Ok(Err(refusal))`, or `Err` when
    /// it could not be weighed.
    fn move_incident(
        &self,
        id: i64,
        state: &str,
        reason: &str,
        force: bool,
        actor: &str,
    ) -> Result<Result<String, String>, String>;
    fn note_incident(&self, id: i64, text: &str, actor: &str) -> Result<(), String>;
    /// Places a hold (and holds the sender's queued mail as the CLI does).
    fn add_hold(
        &self,
        subject: &str,
        action: &str,
        reason: &str,
        for_secs: Option<u64>,
        actor: &str,
    ) -> Result<(), String>;
    /// Releases a hold; false when there was none.
    fn release_hold(&self, subject: &str, note: Option<&str>, actor: &str) -> Result<bool, String>;
    /// Asks the daemon to sweep the lists now.
    fn check_now(&self);
    /// Metrics only the daemon's memory has (policy decisions, lines read).
    fn extra_metrics(&self) -> Extra;
}

/// The shared state of every handler.
pub struct Web {
    pub store: PathBuf,
    pub servers: Vec<ServerInfo>,
    pub actions: Arc<dyn Actions>,
}

/// A token's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Read,
    Operate,
}

/// Who is asking: the token's name and role.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) name: String,
    pub(crate) role: Role,
}

impl Caller {
    pub(crate) fn actor(&self) -> String {
        format!("web:{}", self.name)
    }
}

/// SHA-256 of a token, lowercase hex: what the store keeps.
pub fn hash_token(token: &str) -> String {
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token (`ul_` and 64 hex digits from /dev/urandom).
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(format!(
        "ul_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

pub(crate) const COOKIE: &str = "unlisted_token";

/// The token of a request: the bearer header, else the dashboard's cookie.
fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get("authorization").and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_string());
    }
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            c.trim()
                .strip_prefix(&format!("{COOKIE}="))
                .map(str::to_string)
        })
}

/// Runs `f` with a store connection off the async threads.
pub(crate) async fn with_store<T: Send + 'static>(
    web: &Web,
    f: impl FnOnce(&store::Store) -> Result<T, String> + Send + 'static,
) -> Result<T, (StatusCode, String)> {
    let path = web.store.clone();
    tokio::task::spawn_blocking(move || {
        let s = store::Store::open(&path).map_err(|e| e.to_string())?;
        f(&s)
    })
    .await
    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// The caller of a request, if its token is live; an error when the store
/// cannot be read to tell (not a token refused).
pub(crate) async fn caller(
    web: &Web,
    headers: &HeaderMap,
) -> Result<Option<Caller>, (StatusCode, String)> {
    let Some(token) = token_of(headers) else {
        return Ok(None);
    };
    let hash = hash_token(&token);
    let now = now();
    let row = with_store(web, move |s| {
        s.use_token(&hash, now).map_err(|e| e.to_string())
    })
    .await
    .map_err(|(_, e)| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the store to check the token: {e}"),
        )
    })?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Caller {
        name: row.name,
        role: if row.role == "operate" {
            Role::Operate
        } else {
            Role::Read
        },
    }))
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-28 08:40:00` (UTC).
pub(crate) fn time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Whether a request that changes something comes from another site
/// while riding on the dashboard's cookie (cross-site request forgery).
/// The cookie is `SameSite=Strict` already; this also refuses what a
/// browser says is cross-site (`Sec-Fetch-Site`) or whose `Origin` is not
/// this host. A bearer token is never sent by a browser on its own, and a
/// client that sends neither header (curl) is no browser.
fn cross_site(method: &axum::http::Method, headers: &HeaderMap) -> bool {
    use axum::http::Method;
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || headers.contains_key("authorization")
        || !headers.contains_key("cookie")
    {
        return false;
    }
    let header = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => {
            let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
            !authority.eq_ignore_ascii_case(host)
        }
        (Some(_), None) => true,
        (None, _) => false,
    }
}

async fn refuse_cross_site(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if cross_site(req.method(), req.headers()) {
        return (
            StatusCode::FORBIDDEN,
            "refused: a request from another site may not act with the dashboard's cookie",
        )
            .into_response();
    }
    next.run(req).await
}

/// Up, or up with a store it cannot write (503, for a monitor to page on).
async fn healthz(
    axum::extract::State(web): axum::extract::State<Arc<Web>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if web.actions.extra_metrics().store_failing {
        let body = serde_json::json!({"status": "store_failing"});
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    axum::Json(serde_json::json!({"status": "ok"})).into_response()
}

/// Every route.
pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .merge(api::routes())
        .merge(pages::routes())
        .route("/metrics", axum::routing::get(metrics::metrics))
        .layer(axum::middleware::from_fn(refuse_cross_site))
        .with_state(web)
}

/// Serves [`router`] on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, web: Arc<Web>) -> std::io::Result<()> {
    axum::serve(listener, router(web)).await
}

/// The OpenAPI description of `/api/v1`.
pub const OPENAPI: &str = include_str!("../openapi.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_writes_from_other_sites_are_told_apart() {
        use axum::http::Method;
        let req = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().unwrap());
            }
            h
        };
        let cookie = ("cookie", "unlisted_token=ul_1");
        let host = ("host", "mail.example.net:8427");
        // Reading never; a bearer token or no cookie never.
        assert!(!cross_site(
            &Method::GET,
            &req(&[cookie, ("origin", "https://evil.example")])
        ));
        assert!(!cross_site(
            &Method::POST,
            &req(&[
                ("authorization", "Bearer ul_1"),
                ("origin", "https://evil.example")
            ])
        ));
        assert!(!cross_site(
            &Method::POST,
            &req(&[host, ("origin", "https://evil.example")])
        ));
        // The browser's word first, then the origin against the host.
        assert!(cross_site(
            &Method::POST,
            &req(&[cookie, ("sec-fetch-site", "cross-site")])
        ));
        assert!(cross_site(
            &Method::POST,
            &req(&[cookie, ("sec-fetch-site", "same-site")])
        ));
        assert!(!cross_site(
            &Method::POST,
            &req(&[cookie, ("sec-fetch-site", "same-origin")])
        ));
        assert!(cross_site(
            &Method::POST,
            &req(&[cookie, host, ("origin", "https://evil.example")])
        ));
        assert!(cross_site(
            &Method::POST,
            &req(&[cookie, host, ("origin", "null")])
        ));
        assert!(!cross_site(
            &Method::POST,
            &req(&[cookie, host, ("origin", "http://mail.example.net:8427")])
        ));
        // Neither header: not a browser (curl with a saved cookie).
        assert!(!cross_site(&Method::POST, &req(&[cookie, host])));
    }

    #[test]
    fn times_and_tokens() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_795_854_000), "2026-11-28 08:20:00");
        let t = new_token().unwrap();
        assert!(t.starts_with("ul_") && t.len() == 67);
        assert_ne!(t, new_token().unwrap());
        assert_eq!(hash_token("x").len(), 64);
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=b; unlisted_token=ul_1".parse().unwrap());
        assert_eq!(token_of(&h).as_deref(), Some("ul_1"));
        h.insert("authorization", "Bearer ul_2".parse().unwrap());
        assert_eq!(token_of(&h).as_deref(), Some("ul_2"));
    }
}
