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

#[test]
fn remote_rejections_in_a_real_exim_log_become_listings_with_alerts() {
    let rbl = crate::blocklist_server();
    let hook = WebhookReceiver::start();
    let (_sink, exim) = crate::exim_shop();
    // The sink refuses `spamhaus…` as a Spamhaus-using server does and
    // defers `yahoo…` with TSS04, both naming our IP (127.0.0.1).
    assert!(crate::send_as_shop(
        &exim,
        &[
            "spamhaus1@dest.example",
            "yahoo1@dest.example",
            "friend@dest.example"
        ],
        "Newsletter",
    ));
    let log = testsupport::wait_for(Duration::from_secs(20), || {
        let l = std::fs::read_to_string(exim.mainlog()).ok()?;
        (l.contains(" ** spamhaus1@") && l.contains(" == yahoo1@")).then_some(l)
    })
    .unwrap_or_else(|| std::fs::read_to_string(exim.mainlog()).unwrap_or_default());
    assert!(log.contains("blocked using zen.spamhaus.org"), "{log}");

    let dir = TempDir::new("remote-watch");
    dir.write(
        "unlisted.toml",
        &format!(
            "[dns]\nnameserver = \"{}\"\n[monitor]\nlists = [\"spamcop\"]\n\n[[server]]\nname = \"mx1\"\nips = [\"127.0.0.1\"]\n\n[[log]]\npath = \"{}\"\nformat = \"exim\"\n\n[alerts.webhook]\nurl = \"{}\"\n",
            rbl.addr(),
            exim.mainlog().display(),
            hook.url
        ),
    );
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = unlisted(dir.path(), &["status", "--json"]);
    let listings: Vec<_> = json_lines(&o)
        .into_iter()
        .filter(|l| l["type"] == "listing")
        .collect();
    let mut lists: Vec<(String, String)> = listings
        .iter()
        .map(|l| {
            (
                l["target"].as_str().unwrap().to_string(),
                l["list"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    lists.sort();
    assert_eq!(
        lists,
        [
            ("127.0.0.1".to_string(), "remote:spamhaus-zen".to_string()),
            ("127.0.0.1".to_string(), "remote:yahoo".to_string())
        ],
        "{listings:?}"
    );
    let zen = listings
        .iter()
        .find(|l| l["list"] == "remote:spamhaus-zen")
        .unwrap();
    assert_eq!(zen["server"], "mx1");
    assert!(
        zen["txt"][0]
            .as_str()
            .unwrap()
            .contains("spamhaus1@dest.example"),
        "{zen}"
    );
    assert!(
        zen["delisting"].is_object(),
        "the catalog's route for Spamhaus ZEN: {zen}"
    );
    let alerts = hook.wait_for(2, Duration::from_secs(10));
    let listed: Vec<serde_json::Value> = alerts
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .filter(|v| v["type"] == "listing")
        .collect();
    assert_eq!(listed.len(), 2, "{alerts:?}");

    // Reading the log again finds the episodes open: no new alerts.
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(500));
    let again = hook
        .bodies()
        .iter()
        .filter(|b| b.contains("\"listing\""))
        .count();
    assert_eq!(again, 2);
}

#[test]
fn a_remote_block_ends_after_a_quiet_spell_of_log_time() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("remote-quiet");
    dir.write(
        "unlisted.toml",
        &format!(
            "[monitor]\nremote_quiet = \"1h\"\n\n[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[alerts.webhook]\nurl = \"{}\"\n",
            hook.url
        ),
    );
    let blocked = "2026-03-02 10:00:00 1rKaaa-000aaa-aa <= info@shop.example H=(laptop) [198.51.100.7] P=esmtpa A=login:info@shop.example S=900 for bob@outlook.example
2026-03-02 10:00:01 1rKaaa-000aaa-aa ** bob@outlook.example R=dnslookup T=remote_smtp H=outlook-example.mail.protection.outlook.com [192.0.2.10]: SMTP error from remote mail server after RCPT TO:<bob@outlook.example>: 550 5.7.606 Access denied, banned sending IP [203.0.113.9]. To request removal from this list please visit https://sender.office.com/
2026-03-02 10:00:01 1rKaaa-000aaa-aa Completed
";
    dir.write("mail.log", blocked);
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let open: Vec<_> = json_lines(&unlisted(dir.path(), &["status", "--json"]))
        .into_iter()
        .filter(|l| l["type"] == "listing")
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["list"], "remote:microsoft");
    assert_eq!(open[0]["target"], "203.0.113.9");
    // Ninety minutes of log time later, mail flows again and nothing more
    // was refused: the block has lifted.
    let later = "2026-03-02 11:30:00 1rKbbb-000bbb-bb <= info@shop.example H=(laptop) [198.51.100.7] P=esmtpa A=login:info@shop.example S=900 for carol@outlook.example
2026-03-02 11:30:01 1rKbbb-000bbb-bb => carol@outlook.example R=dnslookup T=remote_smtp H=outlook-example.mail.protection.outlook.com [192.0.2.10] C=\"250 2.6.0 Queued mail for delivery\"
2026-03-02 11:30:01 1rKbbb-000bbb-bb Completed
";
    std::fs::write(dir.path().join("mail.log"), format!("{blocked}{later}")).unwrap();
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&unlisted(dir.path(), &["status", "--json", "--history"]));
    assert!(!lines.iter().any(|l| l["type"] == "listing"), "{lines:?}");
    let ended: Vec<_> = lines.iter().filter(|l| l["type"] == "ended").collect();
    assert_eq!(ended.len(), 1);
    let events: Vec<String> = hook
        .wait_for(2, Duration::from_secs(10))
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["event"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(events, ["listed", "delisted"]);
}

#[test]
fn a_flapping_listing_pages_once_per_interval_on_every_channel_and_counts_the_rest() {
    let mut dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let slack = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("monitor-throttle");
    let cfg = config(&dns, &hook, &smtp, "15m").replace(
        "[alerts.webhook]",
        &format!(
            "[alerts]\nrepeat_after = \"3s\"\n\n[alerts.slack]\nurl = \"{}\"\n\n[alerts.webhook]",
            slack.url
        ),
    );
    dir.write("unlisted.toml", &cfg);
    let once = || {
        let o = unlisted(dir.path(), &["serve", "--once"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    };
    // Listed, delisted, listed, delisted within the interval (clean_after
    // is 1): one `listed` and one `delisted` page; the rest are held back.
    for data in [
        SPAMCOP,
        ":127.0.0.2:Blocked\n127.0.0.2\n",
        SPAMCOP,
        ":127.0.0.2:Blocked\n127.0.0.2\n",
    ] {
        dns.rewrite(0, data);
        once();
    }
    let bodies = hook.wait_for(2, Duration::from_secs(5));
    let events: Vec<String> = bodies
        .iter()
        .map(|b| {
            serde_json::from_str::<serde_json::Value>(b).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(events, ["listed", "delisted"], "{bodies:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        hook.wait_for(3, Duration::from_millis(200)).len(),
        2,
        "no third page"
    );
    // Slack got the same two, in its own format.
    let s = slack.wait_for(2, Duration::from_secs(5));
    assert_eq!(s.len(), 2, "{s:?}");
    let text = serde_json::from_str::<serde_json::Value>(&s[0]).unwrap()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with("*[unlisted] mx1: 192.0.2.99 LISTED on SpamCop"),
        "{text}"
    );
    // After the interval the next one goes, saying what was held back.
    std::thread::sleep(Duration::from_secs(3));
    dns.rewrite(0, SPAMCOP);
    once();
    let bodies = hook.wait_for(3, Duration::from_secs(5));
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let third: serde_json::Value = serde_json::from_str(&bodies[2]).unwrap();
    assert_eq!(third["event"], "listed");
    assert_eq!(third["suppressed"], 1, "{third}");
}

#[test]
fn holds_and_incidents_alert_through_the_same_channels() {
    let dns = spamcop_server();
    let hook = WebhookReceiver::start();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("monitor-events");
    dir.write("unlisted.toml", &config(&dns, &hook, &smtp, "15m"));
    let o = unlisted(
        dir.path(),
        &[
            "hold",
            "add",
            "auth:x@shop.example",
            "--action",
            "defer",
            "--reason",
            "checking",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bodies: Vec<serde_json::Value> = hook
        .wait_for(2, Duration::from_secs(5))
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let of = |ty: &str| {
        bodies
            .iter()
            .find(|b| b["type"] == ty)
            .cloned()
            .unwrap_or_else(|| panic!("no {ty} alert: {bodies:?}"))
    };
    let hold = of("hold");
    assert_eq!(hold["event"], "hold_placed");
    assert_eq!(hold["hold"]["subject"], "auth:x@shop.example");
    of("listing");
    // Moving the incident the listing opened alerts too.
    let o = unlisted(
        dir.path(),
        &[
            "incident",
            "move",
            "1",
            "unjustified",
            "--reason",
            "no spam from us",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bodies: Vec<serde_json::Value> = hook
        .wait_for(3, Duration::from_secs(5))
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    let incident = bodies
        .iter()
        .find(|b| b["type"] == "incident")
        .unwrap_or_else(|| panic!("no incident alert: {bodies:?}"));
    assert_eq!(incident["event"], "incident_moved");
    assert_eq!(incident["state"], "unjustified");
    assert_eq!(incident["server"], "mx1");
    let mails = smtp.wait_for(3, Duration::from_secs(5));
    assert!(
        mails
            .iter()
            .any(|m| m.contains("auth:x@shop.example held (defer)")),
        "{mails:?}"
    );
}
