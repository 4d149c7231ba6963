//! The dashboard: server-rendered pages (no front-end build, no script
//! needed to read them), forms for the actions, and SVG charts drawn here.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use crate::{COOKIE, Caller, Role, Web, caller, time, with_store};

pub(crate) fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/", get(overview))
        .route("/login", get(login_form).post(login))
        .route("/logout", get(logout))
        .route("/incidents", get(incidents))
        .route("/incidents/{id}", get(incident))
        .route("/incidents/{id}/move", post(move_incident))
        .route("/senders", get(senders))
        .route("/sender", get(sender))
        .route("/holds", get(holds))
        .route("/holds/release", post(release))
        .route("/holds/add", post(add_hold))
        .route("/check", post(check))
        .route("/complaints", get(complaints))
}

/// HTML-escapes text.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1b2a3a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#cfe3ff;text-decoration:none}header b{font-size:1.1em;margin-right:1em}
main{padding:1em 1.4em;max-width:1200px}table{border-collapse:collapse;width:100%;background:#fff;margin:.6em 0 1.2em}
th,td{border-bottom:1px solid #e3e6ea;padding:.35em .6em;text-align:left;vertical-align:top;font-size:.92em}
th{background:#eef1f5}.listed{color:#fff;background:#c62828;padding:.1em .5em;border-radius:3px}
.clean{color:#fff;background:#2e7d32;padding:.1em .5em;border-radius:3px}.state{font-weight:600}
.card{display:inline-block;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:.8em 1em;margin:0 .8em .8em 0;min-width:16em;vertical-align:top}
.msg{background:#fff8e1;border:1px solid #f0d58a;padding:.5em .8em}.err{background:#fdecea;border-color:#f5b5ae}
pre{white-space:pre-wrap;background:#fff;border:1px solid #e3e6ea;padding:.6em}button{cursor:pointer}";

fn page(title: &str, who: Option<&Caller>, body: &str) -> Response {
    let nav = match who {
        Some(c) => format!(
            "<a href=\"/\">Overview</a><a href=\"/incidents\">Incidents</a><a href=\"/senders\">Senders</a><a href=\"/holds\">Holds</a><a href=\"/complaints\">Complaints and refusals</a><span style=\"margin-left:auto\">{} ({})</span><a href=\"/logout\">Log out</a>",
            esc(&c.name),
            if c.role == Role::Operate {
                "operate"
            } else {
                "read"
            }
        ),
        None => String::new(),
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{} · unlisted</title><style>{STYLE}</style></head><body><header><b>unlisted</b>{nav}</header><main><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    ))
    .into_response()
}

/// A page saying the store cannot be read (so nobody can be let in).
fn unavailable((status, msg): (StatusCode, String)) -> Response {
    let mut r = page(
        "Store unavailable",
        None,
        &format!("<p class=\"msg err\">{}</p>", esc(&msg)),
    );
    *r.status_mut() = status;
    r
}

/// The caller, or a redirect to the login page.
async fn who(web: &Web, headers: &HeaderMap) -> Result<Caller, Response> {
    match caller(web, headers).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(unavailable(e)),
    }
}

/// The caller when it may act, else the login redirect or a refusal page.
async fn operator(web: &Web, headers: &HeaderMap, what: &str) -> Result<Caller, Response> {
    let c = who(web, headers).await?;
    if c.role == Role::Operate {
        Ok(c)
    } else {
        Err(failed(
            (StatusCode::FORBIDDEN, format!("a read token cannot {what}")),
            &c,
        ))
    }
}

fn failed((status, msg): (StatusCode, String), c: &Caller) -> Response {
    let mut r = page(
        "Error",
        Some(c),
        &format!("<p class=\"msg err\">{}</p>", esc(&msg)),
    );
    *r.status_mut() = status;
    r
}

#[derive(Deserialize, Default)]
struct Msg {
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    err: Option<String>,
}

fn banner(m: &Msg) -> String {
    match (&m.msg, &m.err) {
        (_, Some(e)) => format!("<p class=\"msg err\">{}</p>", esc(e)),
        (Some(t), None) => format!("<p class=\"msg\">{}</p>", esc(t)),
        _ => String::new(),
    }
}

async fn login_form() -> Response {
    page(
        "Log in",
        None,
        "<form method=\"post\" action=\"/login\"><p>Paste a token (<code>unlisted token create --role read|operate</code>):</p><p><input name=\"token\" type=\"password\" size=\"70\" autofocus> <button type=\"submit\">Log in</button></p></form>",
    )
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

async fn login(State(web): State<Arc<Web>>, Form(l): Form<Login>) -> Response {
    let token = l.token.trim().to_string();
    let mut h = HeaderMap::new();
    if let Ok(v) = format!("Bearer {token}").parse() {
        h.insert("authorization", v);
    }
    let known = match caller(&web, &h).await {
        Ok(c) => c.is_some(),
        Err(e) => return unavailable(e),
    };
    if !known {
        let mut r = page(
            "Log in",
            None,
            "<p class=\"msg err\">That token is not valid (or was revoked).</p><p><a href=\"/login\">Try again</a></p>",
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
            ),
        ],
    )
        .into_response()
}

async fn logout() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/login".to_string()),
            (header::SET_COOKIE, format!("{COOKIE}=; Max-Age=0; Path=/")),
        ],
    )
        .into_response()
}

/// Bars of `(x label, value)`, as an inline SVG.
fn bars(points: &[(String, i64)], width: u32, height: u32, title: &str) -> String {
    if points.is_empty() {
        return "<p>(no data)</p>".into();
    }
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let w = f64::from(width) / points.len() as f64;
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"{}\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\" style=\"background:#fff;border:1px solid #e3e6ea\"><title>{}</title>",
        esc(title),
        height + 16,
        height + 16,
        esc(title)
    );
    for (i, (x, v)) in points.iter().enumerate() {
        let h = (*v as f64 / max) * f64::from(height - 4);
        svg += &format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#3b6ea5\"><title>{}: {v}</title></rect>",
            i as f64 * w + 1.0,
            f64::from(height) - h,
            (w - 2.0).max(1.0),
            h,
            esc(x)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        svg += &format!(
            "<text x=\"2\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            height + 13,
            esc(&first.0),
            width - 2,
            height + 13,
            esc(&last.0)
        );
    }
    svg + "</svg>"
}

async fn overview(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(m): Query<Msg>,
) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let servers = match crate::api::server_list(&web).await {
        Ok(s) => s,
        Err(e) => return failed(e, &c),
    };
    let rest = with_store(&web, |s| {
        let e = |e: store::StoreError| e.to_string();
        Ok((
            s.incidents(true, 100).map_err(e)?,
            s.episodes(None, 2000).map_err(e)?,
            s.sender_verdicts().map_err(e)?,
            s.holds().map_err(e)?.len(),
            s.queue_census().map_err(e)?,
        ))
    })
    .await;
    let (incidents, episodes, verdicts, holds, queue) = match rest {
        Ok(r) => r,
        Err(e) => return failed(e, &c),
    };
    let mut body = banner(&m);
    for s in &servers {
        let status = if s.listed {
            "<span class=\"listed\">LISTED</span>"
        } else {
            "<span class=\"clean\">clean</span>"
        };
        let mut lines = String::new();
        for l in &s.listings {
            lines += &format!(
                "<li>{} on <b>{}</b> since {}</li>",
                esc(&l.target),
                esc(&l.list),
                time(l.since)
            );
        }
        for r in &s.refusals {
            lines += &format!(
                "<li>mail refused by <b>{}</b> since {}: {}</li>",
                esc(r.list.trim_start_matches("remote:")),
                time(r.since),
                esc(&r.meanings.join("; "))
            );
        }
        // Trend: listings opened per day over the last 30 days.
        let now = crate::now();
        let mut per_day = vec![0i64; 30];
        for e in episodes.iter().filter(|e| e.server == s.name) {
            let age = (now - e.first_seen) / 86_400;
            if (0..30).contains(&age) {
                per_day[29 - age as usize] += 1;
            }
        }
        let points: Vec<(String, i64)> = per_day
            .iter()
            .enumerate()
            .map(|(i, n)| (time(now - (29 - i as i64) * 86_400)[..10].to_string(), *n))
            .collect();
        body += &format!(
            "<div class=\"card server\" data-server=\"{}\"><h2>{} {status}</h2><p>{}</p><ul>{lines}</ul><p>New listings, 30 days:</p>{}</div>",
            esc(&s.name),
            esc(&s.name),
            esc(&s.ips.join(", ")),
            bars(
                &points,
                240,
                40,
                &format!("new listings of {} per day", s.name)
            )
        );
    }
    let spamming = verdicts.iter().filter(|v| v.verdict == "spamming").count();
    let suspicious = verdicts
        .iter()
        .filter(|v| v.verdict == "suspicious")
        .count();
    body += &format!(
        "<p><a href=\"/senders\">{spamming} spamming and {suspicious} suspicious senders</a> · <a href=\"/holds\">{holds} holds</a></p>"
    );
    if let Some(q) = &queue {
        let top: Vec<String> = (q.senders.iter().take(3))
            .map(|(who, n)| format!("{} ({n})", esc(who)))
            .collect();
        body += &format!(
            "<p class=\"queue\">Mail queue: {} messages, {} held or frozen, counted {}{}</p>",
            q.total,
            q.held,
            time(q.at),
            if top.is_empty() {
                String::new()
            } else {
                format!("; most from {}", top.join(", "))
            }
        );
    }
    if c.role == Role::Operate {
        body += "<form method=\"post\" action=\"/check\"><button type=\"submit\" class=\"check\">Check every list now</button></form>";
    }
    body += "<h2>Active incidents</h2>";
    body += &incident_table(&incidents);
    page("Overview", Some(&c), &body)
}

fn incident_table(incidents: &[store::IncidentRow]) -> String {
    if incidents.is_empty() {
        return "<p>None.</p>".into();
    }
    let mut t = "<table><tr><th>#</th><th>State</th><th>Server</th><th>What</th><th>Opened</th><th>Next action</th></tr>".to_string();
    for i in incidents {
        let next = i
            .state
            .parse::<incidents::State>()
            .map_or("", incidents::State::next_action);
        t += &format!(
            "<tr><td><a href=\"/incidents/{}\">{}</a></td><td class=\"state\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i.id,
            i.id,
            esc(&i.state),
            esc(&i.server),
            esc(&i.title),
            time(i.opened),
            esc(next)
        );
    }
    t + "</table>"
}

async fn incidents(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match with_store(&web, |s| s.incidents(false, 500).map_err(|e| e.to_string())).await {
        Ok(rows) => page("Incidents", Some(&c), &incident_table(&rows)),
        Err(e) => failed(e, &c),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn incident(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(m): Query<Msg>,
) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let actions = web.actions.clone();
    let v = match tokio::task::spawn_blocking(move || actions.incident(id)).await {
        Ok(Ok(Some(v))) => v,
        Ok(Ok(None)) => return failed((StatusCode::NOT_FOUND, format!("no incident {id}")), &c),
        Ok(Err(e)) => return failed((StatusCode::INTERNAL_SERVER_ERROR, e), &c),
        Err(e) => return failed((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()), &c),
    };
    let mut b = banner(&m);
    b += &format!(
        "<p>Server <b>{}</b> · state <span class=\"state\">{}</span> · opened {}{}</p><p><b>Next:</b> {}</p>",
        esc(&s(&v["server"])),
        esc(&s(&v["state"])),
        time(v["opened"].as_i64().unwrap_or(0)),
        v["related"]
            .as_i64()
            .map(|r| format!(" · follows <a href=\"/incidents/{r}\">incident {r}</a>"))
            .unwrap_or_default(),
        esc(&s(&v["next_action"]))
    );
    if c.role == Role::Operate {
        let next = match s(&v["state"]).as_str() {
            "open" => "contained",
            "contained" => "cleaned",
            "cleaned" => "verified",
            "verified" => "delisting",
            "delisting" | "unjustified" => "resolved",
            _ => "open",
        };
        let options: String = incidents::State::ALL
            .iter()
            .map(|st| {
                let sel = if st.as_str() == next { " selected" } else { "" };
                format!("<option{sel}>{st}</option>")
            })
            .collect();
        b += &format!(
            "<form method=\"post\" action=\"/incidents/{id}/move\">Move to <select name=\"state\">{options}</select> because <input name=\"reason\" size=\"50\" required> <button type=\"submit\">Move</button></form>"
        );
    }
    b += "<h2>Senders</h2><table><tr><th>Sender</th><th>Held since</th><th>Last message out</th><th>Site scan</th></tr>";
    for sn in v["facts"]["senders"].as_array().into_iter().flatten() {
        let name = s(&sn["sender"]);
        b += &format!(
            "<tr><td><a href=\"/sender?s={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            enc(&name),
            esc(&name),
            sn["held_at"]
                .as_i64()
                .map(time)
                .unwrap_or_else(|| "<b>not held</b>".into()),
            sn["last_out"].as_i64().map(time).unwrap_or_default(),
            sn["scan"]["id"]
                .as_i64()
                .map(|i| format!(
                    "scan {i}: {} malicious files, {} quarantined",
                    sn["scan"]["malicious_files"].as_array().map_or(0, Vec::len),
                    sn["scan"]["quarantined"].as_array().map_or(0, Vec::len)
                ))
                .unwrap_or_default()
        );
    }
    b += "</table><h2>Listings and removal</h2><table><tr><th>Listing</th><th>Route</th><th>Who</th><th>Advice</th><th>Request</th></tr>";
    for p in v["plans"].as_array().into_iter().flatten() {
        b += &format!(
            "<tr><td>{} on <b>{}</b>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&s(&p["target"])),
            esc(&s(&p["list"])),
            p["ended"]
                .as_i64()
                .map(|e| format!(" (ended {})", time(e)))
                .unwrap_or_default(),
            esc(&p["routes"]
                .as_array()
                .map(|r| r.iter().map(s).collect::<Vec<_>>().join(", "))
                .unwrap_or_default()),
            esc(&s(&p["who"])),
            esc(&s(&p["advice"])),
            match (&p["request"], &p["not_yet"]) {
                (Value::String(r), _) => format!(
                    "<details><summary>ready</summary><pre>{}</pre></details>",
                    esc(r)
                ),
                (_, Value::String(n)) => esc(n),
                _ => String::new(),
            }
        );
    }
    b += "</table><h2>Timeline</h2><table><tr><th>When</th><th>What</th><th>Who</th><th></th></tr>";
    for e in v["timeline"].as_array().into_iter().flatten() {
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            time(e["at"].as_i64().unwrap_or(0)),
            esc(&s(&e["kind"])),
            esc(&s(&e["actor"])),
            esc(&s(&e["text"]))
        );
    }
    b += "</table>";
    page(&format!("Incident {id}: {}", s(&v["title"])), Some(&c), &b)
}

#[derive(Deserialize)]
struct MoveForm {
    state: String,
    reason: String,
}

async fn move_incident(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<MoveForm>,
) -> Response {
    let c = match operator(&web, &headers, "move incidents").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let m = crate::api::Move {
        state: f.state,
        reason: f.reason,
        force: false,
    };
    let q = match crate::api::do_move(&web, id, m, &c).await {
        Ok(Ok(why)) => format!("msg={}", enc(&format!("moved: {why}"))),
        Ok(Err(refusal)) => format!("err={}", enc(&format!("refused: {refusal}"))),
        Err(e) => format!("err={}", enc(&e)),
    };
    Redirect::to(&format!("/incidents/{id}?{q}")).into_response()
}

async fn senders(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = match with_store(&web, |s| s.sender_verdicts().map_err(|e| e.to_string())).await {
        Ok(r) => r,
        Err(e) => return failed(e, &c),
    };
    let mut b = "<table><tr><th>Sender</th><th>Account</th><th>Verdict</th><th>Since</th><th>Messages</th></tr>".to_string();
    for r in &rows {
        b += &format!(
            "<tr><td><a href=\"/sender?s={}\">{}</a></td><td>{}</td><td class=\"state\">{}</td><td>{}</td><td>{}</td></tr>",
            enc(&r.sender),
            esc(&r.sender),
            esc(r.account.as_deref().unwrap_or("")),
            esc(&r.verdict),
            time(r.since),
            r.messages
        );
    }
    page("Senders", Some(&c), &(b + "</table>"))
}

#[derive(Deserialize)]
struct SenderQ {
    s: String,
}

async fn sender(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Query(q): Query<SenderQ>,
) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let name = q.s.clone();
    let got = with_store(&web, move |s| {
        let e = |e: store::StoreError| e.to_string();
        Ok((
            s.sender_hourly(&name, 48).map_err(e)?,
            s.sender_history(&name).map_err(e)?,
            s.sender_lines(&name, 10).map_err(e)?,
            s.hold(&name).map_err(e)?,
        ))
    })
    .await;
    let (hourly, history, lines, hold) = match got {
        Ok(g) => g,
        Err(e) => return failed(e, &c),
    };
    let points: Vec<(String, i64)> = hourly
        .iter()
        .map(|(h, n)| (time(*h)[..13].to_string() + "h", *n))
        .collect();
    let mut b = format!(
        "<p>{}</p><h2>Messages per hour (its last 48 hours of log)</h2>{}",
        match &hold {
            Some(h) => format!(
                "<b>Held</b> ({}) since {} by {}: {}",
                esc(&h.action),
                time(h.created),
                esc(&h.actor),
                esc(&h.reason)
            ),
            None => "Not held.".into(),
        },
        bars(
            &points,
            720,
            120,
            &format!("messages per hour from {}", q.s)
        )
    );
    b += "<h2>Verdicts and their reasons</h2><table><tr><th>When (UTC)</th><th>Change</th><th>Reasons</th></tr>";
    for (at, from, to, reasons) in &history {
        let rs: Vec<Value> = serde_json::from_str(reasons).unwrap_or_default();
        let text: Vec<String> = rs
            .iter()
            .map(|r| format!("{} ({})", s(&r["detail"]), s(&r["severity"])))
            .collect();
        b += &format!(
            "<tr><td>{}</td><td>{} → <b>{}</b></td><td>{}</td></tr>",
            time(*at),
            esc(from),
            esc(to),
            esc(&text.join("; "))
        );
    }
    b += "</table><h2>Evidence: its latest log lines</h2><pre>";
    for l in &lines {
        b += &esc(l);
        b.push('\n');
    }
    b += "</pre>";
    page(&q.s, Some(&c), &b)
}

async fn holds(State(web): State<Arc<Web>>, headers: HeaderMap, Query(m): Query<Msg>) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = match with_store(&web, |s| s.holds().map_err(|e| e.to_string())).await {
        Ok(r) => r,
        Err(e) => return failed(e, &c),
    };
    let mut b = banner(&m);
    if c.role == Role::Operate {
        b += "<form method=\"post\" action=\"/holds/add\">Hold <input name=\"subject\" placeholder=\"auth:user@example.com or script:/home/...\" size=\"40\" required> <select name=\"action\"><option>hold</option><option>reject</option><option>defer</option></select> because <input name=\"reason\" size=\"30\" required> <button type=\"submit\">Hold</button></form>";
    }
    if rows.is_empty() {
        b += "<p>No holds.</p>";
    } else {
        b += "<table><tr><th>Sender</th><th>Action</th><th>Since</th><th>Until</th><th>By</th><th>Reason</th><th></th></tr>";
        for h in &rows {
            let button = if c.role == Role::Operate {
                format!(
                    "<form method=\"post\" action=\"/holds/release\"><input type=\"hidden\" name=\"subject\" value=\"{}\"><button type=\"submit\" class=\"release\">Release</button></form>",
                    esc(&h.subject)
                )
            } else {
                String::new()
            };
            b += &format!(
                "<tr class=\"hold\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{button}</td></tr>",
                esc(&h.subject),
                esc(&h.action),
                time(h.created),
                h.until.map(time).unwrap_or_else(|| "until released".into()),
                esc(&h.actor),
                esc(&h.reason)
            );
        }
        b += "</table>";
    }
    page("Holds", Some(&c), &b)
}

#[derive(Deserialize)]
struct ReleaseForm {
    subject: String,
}

async fn release(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<ReleaseForm>,
) -> Response {
    let c = match operator(&web, &headers, "release holds").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let subject = f.subject.clone();
    let q = match crate::api::release(
        &web,
        crate::api::Release {
            subject: f.subject,
            note: Some("released from the dashboard".into()),
        },
        &c,
    )
    .await
    {
        Ok(true) => format!("msg={}", enc(&format!("{subject} released"))),
        Ok(false) => format!("err={}", enc(&format!("{subject} was not held"))),
        Err(e) => format!("err={}", enc(&e)),
    };
    Redirect::to(&format!("/holds?{q}")).into_response()
}

async fn complaints(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    let c = match who(&web, &headers).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let got = with_store(&web, |s| {
        let e = |e: store::StoreError| e.to_string();
        Ok((
            s.complaint_counts().map_err(e)?,
            s.episodes(None, 500).map_err(e)?,
        ))
    })
    .await;
    let (counts, episodes) = match got {
        Ok(g) => g,
        Err(e) => return failed(e, &c),
    };
    let points: Vec<(String, i64)> = counts
        .iter()
        .take(20)
        .map(|c| (c.sender.clone(), c.complaints))
        .collect();
    let mut b = format!(
        "<h2>Feedback-loop complaints by sender</h2>{}<table><tr><th>Sender</th><th>Account</th><th>Complaints</th><th>First</th><th>Last</th></tr>",
        bars(&points, 720, 80, "complaints per sender")
    );
    for r in &counts {
        b += &format!(
            "<tr><td><a href=\"/sender?s={}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            enc(&r.sender),
            esc(&r.sender),
            esc(r.account.as_deref().unwrap_or("")),
            r.complaints,
            r.first.map(time).unwrap_or_default(),
            r.last.map(time).unwrap_or_default()
        );
    }
    b += "</table><h2>Remote refusals of our mail (from bounces and deferrals in the logs)</h2><table><tr><th>Who refused</th><th>Target</th><th>From</th><th>Until</th><th>Why</th></tr>";
    for e in episodes.iter().filter(|e| e.list.starts_with("remote:")) {
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(e.list.trim_start_matches("remote:")),
            esc(&e.target),
            time(e.first_seen),
            e.ended.map(time).unwrap_or_else(|| "still refusing".into()),
            esc(&e.meanings.join("; "))
        );
    }
    page("Complaints and refusals", Some(&c), &(b + "</table>"))
}

#[derive(Deserialize)]
struct AddHoldForm {
    subject: String,
    action: String,
    reason: String,
}

async fn add_hold(
    State(web): State<Arc<Web>>,
    headers: HeaderMap,
    Form(f): Form<AddHoldForm>,
) -> Response {
    let c = match operator(&web, &headers, "place holds").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let actions = web.actions.clone();
    let actor = c.actor();
    let subject = f.subject.clone();
    let res = tokio::task::spawn_blocking(move || {
        actions.add_hold(&f.subject, &f.action, &f.reason, None, &actor)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let q = match res {
        Ok(()) => format!("msg={}", enc(&format!("{subject} held"))),
        Err(e) => format!("err={}", enc(&e)),
    };
    Redirect::to(&format!("/holds?{q}")).into_response()
}

async fn check(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Err(r) = operator(&web, &headers, "start a check").await {
        return r;
    }
    web.actions.check_now();
    Redirect::to(&format!(
        "/?msg={}",
        enc("a check of every list was started")
    ))
    .into_response()
}
