//! `unlisted serve` as the operator's web server: tokens, the JSON API
//! (checked against crates/web/openapi.json by a validator), the dashboard
//! without JavaScript (log in, see the listed server, release a hold with
//! the form), and /metrics without addresses in it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use testsupport::{Rbldnsd, TempDir, Zone, free_tcp_port, wait_for};

use crate::logs::compromised_mailbox;
use crate::{SPAMCOP, stderr, stdout, unlisted};

/// One HTTP/1.1 exchange on loopback: (status, head, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    req += body;
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

/// A token of `role`: the last line of `unlisted token create`.
pub(crate) fn token(dir: &TempDir, role: &str) -> String {
    let o = unlisted(dir.path(), &["token", "create", "--role", role]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    stdout(&o).lines().last().unwrap().trim().to_string()
}

/// A daemon serving the web side on a free loopback port, with a listed
/// server, a spamming mailbox and a hold.
pub(crate) struct Daemon {
    pub(crate) dir: TempDir,
    pub(crate) port: u16,
    pub(crate) read: String,
    pub(crate) operate: String,
    child: std::process::Child,
    _dns: Rbldnsd,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn daemon(name: &str) -> Daemon {
    let dns = Rbldnsd::start(&[Zone {
        zone: "bl.spamcop.net",
        kind: "ip4set",
        data: SPAMCOP,
    }]);
    let dir = TempDir::new(name);
    let port = free_tcp_port();
    dir.write(
        "unlisted.toml",
        &format!(
            "[dns]\nnameserver = \"{}\"\ntimeout = \"500ms\"\n\n[monitor]\ninterval = \"15m\"\nlists = [\"spamcop\"]\n\n[[server]]\nname = \"mx1\"\nips = [\"192.0.2.99\"]\n\n[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[ingest]\npoll = \"200ms\"\n",
            dns.addr()
        ),
    );
    let mut log = String::new();
    compromised_mailbox(&mut log, 0);
    log.push_str("a line that is no Exim line\n");
    log.push_str("2024-05-01 12:00:00 dovecot_login authenticator failed for (x) [203.0.113.50]:5000: 535 Incorrect authentication data (set_id=guess@shop.example)\n");
    dir.write("mail.log", &log);
    let o = unlisted(
        dir.path(),
        &[
            "hold",
            "add",
            "auth:info@shop.example",
            "--action",
            "reject",
            "--reason",
            "compromised mailbox",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let read = token(&dir, "read");
    let operate = token(&dir, "operate");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let d = Daemon {
        dir,
        port,
        read,
        operate,
        child,
        _dns: dns,
    };
    // Up, swept and the incident synced.
    let auth = format!("Bearer {}", d.read);
    let ready = wait_for(Duration::from_secs(20), || {
        let ok = TcpStream::connect(("127.0.0.1", port)).is_ok()
            && http(
                port,
                "GET",
                "/api/v1/incidents",
                &[("Authorization", &auth)],
                "",
            )
            .2
            .contains("\"state\"");
        ok.then_some(())
    });
    assert!(
        ready.is_some(),
        "the daemon did not come up: {}",
        std::fs::read_to_string(d.dir.path().join("serve.log")).unwrap_or_default()
    );
    d
}

#[test]
fn the_api_answers_with_tokens_and_as_its_openapi_file_says() {
    let d = daemon("web-api");
    let auth = format!("Bearer {}", d.read);
    let op = format!("Bearer {}", d.operate);
    let log = std::fs::read_to_string(d.dir.path().join("serve.log")).unwrap();
    assert!(
        log.contains(&format!("http://127.0.0.1:{}/", d.port)),
        "the URL is logged: {log}"
    );

    assert_eq!(http(d.port, "GET", "/healthz", &[], "").0, 200);
    assert_eq!(http(d.port, "GET", "/api/v1/servers", &[], "").0, 401);
    assert_eq!(
        http(
            d.port,
            "GET",
            "/api/v1/servers",
            &[("Authorization", "Bearer ul_nope")],
            ""
        )
        .0,
        401
    );
    let (st, _, body) = http(
        d.port,
        "GET",
        "/api/v1/servers",
        &[("Authorization", &auth)],
        "",
    );
    assert_eq!(st, 200);
    let servers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(servers[0]["name"], "mx1");
    assert_eq!(servers[0]["listed"], true);
    let lists: Vec<&str> = servers[0]["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["list"].as_str().unwrap())
        .collect();
    assert_eq!(lists, ["spamcop"], "remote refusals are not listings");
    assert_eq!(servers[0]["refusals"][0]["list"], "remote:google");

    // Acting needs an operate token.
    let hold = r#"{"subject":"ip:203.0.113.9","action":"defer","reason":"open relay probe"}"#;
    let json = ("Content-Type", "application/json");
    assert_eq!(
        http(
            d.port,
            "POST",
            "/api/v1/holds",
            &[("Authorization", &auth), json],
            hold
        )
        .0,
        403
    );
    assert_eq!(
        http(
            d.port,
            "POST",
            "/api/v1/holds",
            &[("Authorization", &op), json],
            hold
        )
        .0,
        201
    );
    let holds = stdout(&unlisted(d.dir.path(), &["hold", "list", "--json"]));
    assert!(holds.contains("ip:203.0.113.9"), "{holds}");
    let audit = stdout(&unlisted(d.dir.path(), &["hold", "log", "--json"]));
    assert!(
        audit.contains("web:operate-"),
        "the token's name is the actor: {audit}"
    );
    let (st, _, body) = http(
        d.port,
        "POST",
        "/api/v1/holds/release",
        &[("Authorization", &op), json],
        r#"{"subject":"ip:203.0.113.9"}"#,
    );
    assert_eq!(st, 200, "{body}");

    // A move the evidence does not support is refused, with the reason.
    let (st, _, body) = http(
        d.port,
        "POST",
        "/api/v1/incidents/1/move",
        &[("Authorization", &op), json],
        r#"{"state":"verified","reason":"try"}"#,
    );
    assert_eq!(st, 409, "{body}");
    assert!(
        body.contains("cannot move") || body.contains("refused"),
        "{body}"
    );

    // Metrics: per list and per verdict, never an address.
    let (st, _, m) = http(d.port, "GET", "/metrics", &[("Authorization", &auth)], "");
    assert_eq!(st, 200);
    assert!(m.contains("unlisted_listings{list=\"spamcop\"} 1"), "{m}");
    assert!(
        m.contains("unlisted_senders{verdict=\"spamming\"} 1"),
        "{m}"
    );
    assert!(m.contains("unlisted_servers_listed 1"), "{m}");
    assert!(m.contains("unlisted_sweeps_total 1"), "{m}");
    assert!(m.contains("unlisted_alerts{outcome=\"pending\"}"), "{m}");
    // The followed log is there and read.
    assert!(m.contains("unlisted_logs_unreadable 0"), "{m}");
    assert!(
        m.contains("unlisted_log_lines_not_understood_total 1\n"),
        "{m}"
    );
    assert!(m.contains("unlisted_log_lines_dropped_total 0\n"), "{m}");
    assert!(m.contains("unlisted_smtp_auth_failures_total 1\n"), "{m}");
    assert!(
        !m.contains("192.0.2.99") && !m.contains("shop.example"),
        "{m}"
    );
    assert_eq!(http(d.port, "GET", "/metrics", &[], "").0, 401);

    // The whole API against its description, by a validator.
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/openapi.json");
    let checker =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/check_openapi.py");
    let o = std::process::Command::new("python3")
        .arg(checker)
        .arg(spec)
        .arg(format!("http://127.0.0.1:{}", d.port))
        .arg(&d.read)
        .arg(&d.operate)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("answers match"));
}

#[test]
fn the_dashboard_works_without_javascript() {
    let d = daemon("web-pages");
    // Not logged in: to the login page.
    let (st, head, _) = http(d.port, "GET", "/", &[], "");
    assert_eq!(st, 303);
    assert!(head.contains("location: /login"), "{head}");
    let (st, _, _) = http(
        d.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        "token=ul_wrong",
    );
    assert_eq!(st, 401);
    let (st, head, _) = http(
        d.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("token={}", d.operate),
    );
    assert_eq!(st, 303);
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    let get = |path: &str| http(d.port, "GET", path, &[("Cookie", &cookie)], "");
    let (st, _, page) = get("/");
    assert_eq!(st, 200);
    assert!(page.contains("mx1") && page.contains("LISTED"), "{page}");
    assert!(page.contains("192.0.2.99 on <b>spamcop</b>"), "{page}");
    assert!(page.contains("<svg"), "a trend chart: {page}");
    let (_, _, page) = get("/incidents/1");
    assert!(
        page.contains("Timeline") && page.contains("auth:info@shop.example"),
        "{page}"
    );
    let (_, _, page) = get("/sender?s=auth%3Ainfo%40shop.example");
    assert!(
        page.contains("Messages per hour") && page.contains("<rect"),
        "{page}"
    );
    assert!(
        page.contains("dovecot_plain:info@shop.example"),
        "evidence lines: {page}"
    );
    let (_, _, page) = get("/complaints");
    assert!(page.contains("Remote refusals"), "{page}");
    // Place a hold with the form, and ask for a check now.
    let (st, _, _) = http(
        d.port,
        "POST",
        "/holds/add",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "subject=ip%3A203.0.113.9&action=defer&reason=probing",
    );
    assert_eq!(st, 303);
    let (_, _, page) = get("/holds?msg=x");
    assert!(page.contains("ip:203.0.113.9"), "{page}");
    let (st, head, _) = http(d.port, "POST", "/check", &[("Cookie", &cookie)], "");
    assert_eq!(st, 303, "{head}");
    // The same form posted from another site with the cookie is refused
    // (as the browser names it, or by its Origin); from this host it acts.
    for (k, v) in [
        ("Sec-Fetch-Site", "cross-site"),
        ("Origin", "https://evil.example"),
    ] {
        let (st, _, body) = http(d.port, "POST", "/check", &[("Cookie", &cookie), (k, v)], "");
        assert_eq!(st, 403, "{k}: {body}");
    }
    let (st, head, _) = http(
        d.port,
        "POST",
        "/check",
        &[("Cookie", &cookie), ("Origin", "http://127.0.0.1")],
        "",
    );
    assert_eq!(st, 303, "{head}");
    let (st, _, _) = http(
        d.port,
        "POST",
        "/holds/release",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "subject=ip%3A203.0.113.9",
    );
    assert_eq!(st, 303);
    // Release the hold with the form.
    let (_, _, page) = get("/holds");
    assert!(page.contains("class=\"release\""), "{page}");
    let (st, head, _) = http(
        d.port,
        "POST",
        "/holds/release",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "subject=auth%3Ainfo%40shop.example",
    );
    assert_eq!(st, 303, "{head}");
    let (_, _, page) = get("/holds");
    assert!(page.contains("No holds."), "{page}");
    // A read token sees no release button and cannot post one.
    let (_, head, _) = http(
        d.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("token={}", d.read),
    );
    let read_cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let (st, _, _) = http(
        d.port,
        "POST",
        "/holds/release",
        &[
            ("Cookie", &read_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        "subject=auth%3Ainfo%40shop.example",
    );
    assert_eq!(st, 403);
}

#[test]
fn a_real_browser_logs_in_sees_the_listing_and_releases_a_hold() {
    let d = daemon("web-browser");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/tests/browser.py");
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    let o = std::process::Command::new("timeout")
        .arg("120")
        .arg("python3")
        .arg(script)
        .arg("chromium")
        .arg(format!("http://127.0.0.1:{}", d.port))
        .arg(&d.operate)
        .arg("auth:info@shop.example")
        .arg(&shots)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for page in [
        "login",
        "overview",
        "incident",
        "sender",
        "complaints",
        "holds",
        "holds-released",
    ] {
        let png = std::fs::read(shots.join(format!("{page}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG") && png.len() > 5_000,
            "{page}.png"
        );
    }
    // The click went through the daemon: the hold is gone and audited.
    let audit = stdout(&unlisted(d.dir.path(), &["hold", "log", "--json"]));
    assert!(audit.contains("\"released\""), "{audit}");
    assert!(audit.contains("web:operate-"), "{audit}");
}
