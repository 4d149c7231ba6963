//! `unlisted serve` and `unlisted status`: episodes open and close in the
//! SQLite store, and both alerts reach a real webhook receiver and a real
//! SMTP server.

use std::time::Duration;

use testsupport::{Rbldnsd, SmtpSink, TempDir, WebhookReceiver, Zone};

use crate::{SPAMCOP, json_lines, stderr, stdout, unlisted};

fn config(dns: &Rbldnsd, hook: &WebhookReceiver, smtp: &SmtpSink, interval: &str) -> String {
    config_with(dns, hook, smtp, interval, 1)
}

fn config_with(
    dns: &Rbldnsd,
    hook: &WebhookReceiver,
    smtp: &SmtpSink,
    interval: &str,
    clean_after: u32,
) -> String {
    format!(
        r#"
[dns]
nameserver = "{}"
timeout = "500ms"

[monitor]
interval = "{interval}"
lists = ["spamcop"]
clean_after = {clean_after}

[[server]]
name = "mx1"
ips = ["192.0.2.99", "192.0.2.1"]
helo = "mx1.example.net"

[alerts.webhook]
url = "{}"

[alerts.email]
smtp = "127.0.0.1:{}"
from = "unlisted@example.net"
to = ["abuse@example.net"]
tls = "none"
"#,
        dns.addr(),
        hook.url,
        smtp.port
    )
}

fn spamcop_server() -> Rbldnsd {
    Rbldnsd::start(&[Zone {
        zone: "bl.spamcop.net",
        kind: "ip4set",
        data: SPAMCOP,
    }])
}

#[test]
fn monitor_opens_and_closes_an_episode_and_alerts_both_ways() {
    let mut dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("monitor");
    dir.write("unlisted.toml", &config(&dns, &hook, &smtp, "15m"));

    // Sweep 1: 192.0.2.99 is listed on SpamCop.
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bodies = hook.wait_for(1, Duration::from_secs(5));
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let b: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(b["event"], "listed");
    assert_eq!(b["server"], "mx1");
    assert_eq!(b["target"], "192.0.2.99");
    assert_eq!(b["list"], "spamcop");
    assert_eq!(b["codes"], serde_json::json!(["127.0.0.2"]));
    assert_eq!(
        b["txt"][0],
        "Blocked - see https://www.spamcop.net/bl.shtml?192.0.2.99"
    );
    assert_eq!(b["delisting"]["expiry"], "24h");
    let mails = smtp.wait_for(1, Duration::from_secs(5));
    assert_eq!(mails.len(), 1);
    assert!(
        mails[0].contains("Subject: [unlisted] mx1: 192.0.2.99 LISTED on SpamCop Blocking List"),
        "{}",
        mails[0]
    );
    assert!(mails[0].contains("To: abuse@example.net"));

    // The store has the episode, and status shows it with exit 1.
    let o = unlisted(dir.path(), &["status", "--json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let listing = lines.iter().find(|l| l["type"] == "listing").unwrap();
    assert_eq!(listing["server"], "mx1");
    assert_eq!(listing["target"], "192.0.2.99");
    assert!(listing["ended"].is_null());
    let sweep = lines.iter().find(|l| l["type"] == "sweep").unwrap();
    assert_eq!(sweep["sweep"]["listed"], 1);
    let human = stdout(&unlisted(dir.path(), &["status"]));
    assert!(
        human.contains("192.0.2.99") && human.contains("spamcop") && human.contains("listed since"),
        "{human}"
    );

    // Sweep 2, still listed: no new alert, the same episode.
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(hook.bodies().len(), 1);

    // The listing goes away; sweep 3 ends the episode (clean_after = 1).
    dns.rewrite(0, ":127.0.0.2:Blocked\n127.0.0.2\n");
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bodies = hook.wait_for(2, Duration::from_secs(5));
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let b: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
    assert_eq!(b["event"], "delisted");
    assert!(b["ended"].is_string());
    let mails = smtp.wait_for(2, Duration::from_secs(5));
    assert!(
        mails[1].contains("192.0.2.99 delisted from SpamCop"),
        "{}",
        mails[1]
    );

    let o = unlisted(dir.path(), &["status", "--json", "--history"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(lines.iter().all(|l| l["type"] != "listing"));
    let ended = lines.iter().find(|l| l["type"] == "ended").unwrap();
    assert_eq!(ended["target"], "192.0.2.99");
    assert!(ended["ended"].as_i64().unwrap() >= ended["first_seen"].as_i64().unwrap());
}

#[test]
fn a_dead_nameserver_neither_opens_nor_closes_episodes() {
    let dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("monitor-dead");
    dir.write("unlisted.toml", &config(&dns, &hook, &smtp, "15m"));
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(hook.wait_for(1, Duration::from_secs(5)).len(), 1);

    // Point the monitor at a nameserver that never answers.
    let dead = testsupport::SilentDns::start();
    let cfg = config(&dns, &hook, &smtp, "15m").replace(&dns.addr(), &dead.addr());
    dir.write("unlisted.toml", &cfg);
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = unlisted(dir.path(), &["status", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "the episode stays open: {}",
        stdout(&o)
    );
    let lines = json_lines(&o);
    let sweep = lines.iter().find(|l| l["type"] == "sweep").unwrap();
    assert_eq!(sweep["sweep"]["listed"], 0);
    assert!(sweep["sweep"]["zones_failed"].as_i64().unwrap() >= 1);
    assert!(lines.iter().any(|l| l["type"] == "zone"));
    assert_eq!(
        hook.bodies().len(),
        1,
        "no delisting alert from a dead resolver"
    );
}

#[test]
fn webhook_down_then_up_loses_no_alert() {
    let dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("monitor-retry");
    dir.write("unlisted.toml", &config(&dns, &hook, &smtp, "15m"));
    hook.respond_with(503);
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("alert not delivered"), "{}", stderr(&o));
    assert!(hook.bodies().is_empty());
    hook.respond_with(200);
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bodies = hook.wait_for(1, Duration::from_secs(5));
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("\"event\":\"listed\""));
    // E-mail went out the first time and is not sent again.
    assert_eq!(smtp.messages().len(), 1);
}

#[test]
fn daemon_sweeps_on_its_schedule_and_stops_on_sigterm() {
    let dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("daemon");
    dir.write("unlisted.toml", &config(&dns, &hook, &smtp, "1s"));
    let mut child = crate::spawn(dir.path(), &["serve", "--db", "d.db"]);
    let bodies = hook.wait_for(1, Duration::from_secs(10));
    // Let it run at least two more sweeps, observed through the store.
    let swept = testsupport::wait_for(Duration::from_secs(10), || {
        let o = unlisted(dir.path(), &["status", "--db", "d.db", "--json"]);
        let lines = json_lines(&o);
        let id = lines.iter().find(|l| l["type"] == "sweep")?["sweep"]["id"].as_i64()?;
        (id >= 3).then_some(id)
    });
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = testsupport::wait_for(Duration::from_secs(10), || child.try_wait().ok().flatten());
    if status.is_none() {
        let _ = child.kill();
    }
    assert_eq!(bodies.len(), 1);
    assert!(swept.is_some(), "the daemon did not keep sweeping");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "SIGTERM ends the daemon cleanly"
    );
    assert_eq!(
        hook.bodies().len(),
        1,
        "one listing, one alert, however many sweeps"
    );
}

#[test]
fn one_clean_sweep_does_not_end_a_listing_and_damping_survives_restarts() {
    let mut dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("monitor-flap");
    dir.write("unlisted.toml", &config_with(&dns, &hook, &smtp, "15m", 2));
    let open_listings = || {
        let o = unlisted(dir.path(), &["status", "--json"]);
        json_lines(&o)
            .iter()
            .filter(|l| l["type"] == "listing")
            .count()
    };
    assert_eq!(
        unlisted(dir.path(), &["serve", "--once"]).status.code(),
        Some(0)
    );
    assert_eq!(open_listings(), 1);
    // Clean once (each sweep is a new process): the episode stays open.
    dns.rewrite(0, ":127.0.0.2:Blocked\n127.0.0.2\n");
    assert_eq!(
        unlisted(dir.path(), &["serve", "--once"]).status.code(),
        Some(0)
    );
    assert_eq!(open_listings(), 1, "one clean sweep must not end a listing");
    // Listed again, then clean twice in a row: now it ends, once.
    dns.rewrite(0, SPAMCOP);
    assert_eq!(
        unlisted(dir.path(), &["serve", "--once"]).status.code(),
        Some(0)
    );
    dns.rewrite(0, ":127.0.0.2:Blocked\n127.0.0.2\n");
    assert_eq!(
        unlisted(dir.path(), &["serve", "--once"]).status.code(),
        Some(0)
    );
    assert_eq!(open_listings(), 1);
    assert_eq!(
        unlisted(dir.path(), &["serve", "--once"]).status.code(),
        Some(0)
    );
    assert_eq!(open_listings(), 0);
    let events: Vec<String> = hook
        .wait_for(2, Duration::from_secs(5))
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["event"].to_string())
        .collect();
    assert_eq!(events, ["\"listed\"", "\"delisted\""]);
}
