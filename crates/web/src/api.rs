//! `/api/v1`: JSON in and out, described in `openapi.json`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Caller, Role, Web, caller, now, with_store};

pub(crate) fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/api/v1/servers", get(servers))
        .route("/api/v1/senders", get(senders))
        .route("/api/v1/holds", get(holds).post(add_hold))
        .route("/api/v1/holds/release", post(release_hold))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/incidents/{id}", get(incident))
        .route("/api/v1/incidents/{id}/move", post(move_incident))
        .route("/api/v1/incidents/{id}/notes", post(note))
        .route("/api/v1/complaints", get(complaints))
        .route("/api/v1/check", post(check))
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({"error": msg.into()}))).into_response()
}

/// The caller, when its token allows `role`.
pub(crate) async fn need(web: &Web, headers: &HeaderMap, role: Role) -> Result<Caller, Response> {
    match caller(web, headers).await.map_err(internal)? {
        None => Err(error(
            StatusCode::UNAUTHORIZED,
            "a valid token is needed: Authorization: Bearer TOKEN (unlisted token create)",
        )),
        Some(c) if role == Role::Operate && c.role != Role::Operate => Err(error(
            StatusCode::FORBIDDEN,
            "this token may only read; acting needs an operate token",
        )),
        Some(c) => Ok(c),
    }
}

fn internal((status, msg): (StatusCode, String)) -> Response {
    error(status, msg)
}

/// One listing of a server.
#[derive(Serialize)]
pub(crate) struct ListingJson {
    pub(crate) list: String,
    pub(crate) target: String,
    pub(crate) since: i64,
    pub(crate) codes: Vec<String>,
    pub(crate) meanings: Vec<String>,
}

/// A server, its blocklist listings, and the refusals remote servers gave
/// its mail (from the logs; a rate limit is not a listing).
#[derive(Serialize)]
pub(crate) struct ServerJson {
    pub(crate) name: String,
    pub(crate) ips: Vec<String>,
    /// On at least one blocklist.
    pub(crate) listed: bool,
    pub(crate) listings: Vec<ListingJson>,
    pub(crate) refusals: Vec<ListingJson>,
}

pub(crate) async fn server_list(web: &Web) -> Result<Vec<ServerJson>, (StatusCode, String)> {
    let servers = web.servers.clone();
    with_store(web, move |s| {
        let open = s.open_episodes(None).map_err(|e| e.to_string())?;
        Ok(servers
            .into_iter()
            .map(|srv| {
                let (refusals, listings): (Vec<ListingJson>, Vec<ListingJson>) = open
                    .iter()
                    .filter(|e| e.server == srv.name)
                    .map(|e| ListingJson {
                        list: e.list.clone(),
                        target: e.target.clone(),
                        since: e.first_seen,
                        codes: e.codes.clone(),
                        meanings: e.meanings.clone(),
                    })
                    .partition(|l| l.list.starts_with("remote:"));
                ServerJson {
                    name: srv.name,
                    ips: srv.ips,
                    listed: !listings.is_empty(),
                    listings,
                    refusals,
                }
            })
            .collect())
    })
    .await
}

async fn servers(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = need(&web, &headers, Role::Read).await {
        return r;
    }
    match server_list(&web).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => internal(e),
    }
}

async fn senders(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = need(&web, &headers, Role::Read).await {
        return r;
    }
    match with_store(&web, |s| s.sender_verdicts().map_err(|e| e.to_string())).await {
        Ok(rows) => Json(
            rows.into_iter()
                .map(|r| {
                    json!({"sender": r.sender, "account": r.account, "verdict": r.verdict,
                           "since": r.since, "messages": r.messages})
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(e) => internal(e),
    }
}

async fn holds(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = need(&web, &headers, Role::Read).await {
        return r;
    }
    match with_store(&web, |s| s.holds().map_err(|e| e.to_string())).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct NewHold {
    subject: String,
    #[serde(default = "hold")]
    action: String,
    reason: String,
    /// Seconds; none: until released.
    #[serde(default)]
    for_secs: Option<u64>,
}

fn hold() -> String {
    "hold".into()
}

async fn add_hold(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(h): Json<NewHold>,
) -> Response {
    let c = match need(&web, &headers, Role::Operate).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let actions = web.actions.clone();
    let res = tokio::task::spawn_blocking(move || {
        actions.add_hold(&h.subject, &h.action, &h.reason, h.for_secs, &c.actor())
    })
    .await;
    match res {
        Ok(Ok(())) => (StatusCode::CREATED, Json(json!({"held": true}))).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
pub(crate) struct Release {
    pub(crate) subject: String,
    #[serde(default)]
    pub(crate) note: Option<String>,
}

async fn release_hold(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Json(r): Json<Release>,
) -> Response {
    let c = match need(&web, &headers, Role::Operate).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match release(&web, r, &c).await {
        Ok(true) => Json(json!({"released": true})).into_response(),
        Ok(false) => error(StatusCode::NOT_FOUND, "no such hold"),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

pub(crate) async fn release(web: &Web, r: Release, c: &Caller) -> Result<bool, String> {
    let actions = web.actions.clone();
    let actor = c.actor();
    tokio::task::spawn_blocking(move || actions.release_hold(&r.subject, r.note.as_deref(), &actor))
        .await
        .map_err(|e| e.to_string())?
}

async fn incidents(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = need(&web, &headers, Role::Read).await {
        return r;
    }
    match with_store(&web, |s| {
        s.incidents(false, 1000).map_err(|e| e.to_string())
    })
    .await
    {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => internal(e),
    }
}

async fn incident(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if let Err(r) = need(&web, &headers, Role::Read).await {
        return r;
    }
    let actions = web.actions.clone();
    match tokio::task::spawn_blocking(move || actions.incident(id)).await {
        Ok(Ok(Some(v))) => Json(v).into_response(),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, format!("no incident {id}")),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

#[derive(Deserialize)]
pub(crate) struct Move {
    pub(crate) state: String,
    pub(crate) reason: String,
    #[serde(default)]
    pub(crate) force: bool,
}

pub(crate) async fn do_move(
    web: &Web,
    id: i64,
    m: Move,
    c: &Caller,
) -> Result<Result<String, String>, String> {
    let actions = web.actions.clone();
    let actor = c.actor();
    tokio::task::spawn_blocking(move || {
        actions.move_incident(id, &m.state, &m.reason, m.force, &actor)
    })
    .await
    .map_err(|e| e.to_string())?
}

async fn move_incident(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(m): Json<Move>,
) -> Response {
    let c = match need(&web, &headers, Role::Operate).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match do_move(&web, id, m, &c).await {
        Ok(Ok(why)) => Json(json!({"moved": true, "evidence": why})).into_response(),
        Ok(Err(refusal)) => (
            StatusCode::CONFLICT,
            Json(json!({"moved": false, "error": refusal})),
        )
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
struct Note {
    text: String,
}

async fn note(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(n): Json<Note>,
) -> Response {
    let c = match need(&web, &headers, Role::Operate).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let actions = web.actions.clone();
    match tokio::task::spawn_blocking(move || actions.note_incident(id, &n.text, &c.actor())).await
    {
        Ok(Ok(())) => (StatusCode::CREATED, Json(json!({"noted": true}))).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn complaints(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = need(&web, &headers, Role::Read).await {
        return r;
    }
    match with_store(&web, |s| s.complaint_counts().map_err(|e| e.to_string())).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => internal(e),
    }
}

async fn check(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = need(&web, &headers, Role::Operate).await {
        return r;
    }
    web.actions.check_now();
    (
        StatusCode::ACCEPTED,
        Json(json!({"queued": true, "at": now()})),
    )
        .into_response()
}
