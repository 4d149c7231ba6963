//! Whole stories through the real parts: raw Exim logs, a real rbldnsd
//! answering for the list, the daemon (`serve --once`), holds, and the
//! incident workflow to a resolved incident — with every step's evidence
//! in `unlisted incident show`.

use std::time::Duration;

use testsupport::{Rbldnsd, SmtpSink, TempDir, Zone};

use crate::complaints::arf;
use crate::ingest::messages;
use crate::logs::compromised_mailbox;
use crate::{SPAMCOP, json_lines, stderr, stdout, unlisted};

const MAILBOX: &str = "auth:info@shop.example";

fn config(dns: &Rbldnsd, extra: &str) -> String {
    format!(
        r#"
[dns]
nameserver = "{}"
timeout = "500ms"

[monitor]
interval = "15m"
lists = ["spamcop", "barracuda"]
clean_after = 1
remote_quiet = "1h"

[[server]]
name = "mx1"
ips = ["192.0.2.99"]

[[log]]
path = "mail.log"
format = "exim"

[complaints]
maildirs = ["fbl"]

[incidents]
quiet = "1h"
{extra}
"#,
        dns.addr()
    )
}

/// SpamCop (expires by itself) and Barracuda (a removal form) both list
/// 192.0.2.99.
fn lists() -> Rbldnsd {
    Rbldnsd::start(&[
        Zone {
            zone: "bl.spamcop.net",
            kind: "ip4set",
            data: SPAMCOP,
        },
        Zone {
            zone: "b.barracudacentral.org",
            kind: "ip4set",
            data: BARRACUDA,
        },
    ])
}

const BARRACUDA: &str = ":127.0.0.2:Listed\n127.0.0.2\n192.0.2.99\n";
const NOT_LISTED: &str = ":127.0.0.2:Listed\n127.0.0.2\n";

/// The removal plan for `list` in an incident.
fn plan<'a>(i: &'a serde_json::Value, list: &str) -> &'a serde_json::Value {
    i["plans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["list"] == list)
        .unwrap_or_else(|| panic!("no plan for {list}: {i}"))
}

fn once(dir: &TempDir) {
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

fn show(dir: &TempDir, id: i64) -> serde_json::Value {
    let o = unlisted(dir.path(), &["incident", "show", &id.to_string(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    json_lines(&o).remove(0)
}

fn append(dir: &TempDir, text: &str) {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("mail.log"))
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn mv(dir: &TempDir, id: i64, state: &str, reason: &str) -> std::process::Output {
    unlisted(
        dir.path(),
        &[
            "incident",
            "move",
            &id.to_string(),
            state,
            "--reason",
            reason,
        ],
    )
}

#[test]
fn a_compromised_mailbox_goes_from_listing_to_resolved_and_a_late_listing_links_back() {
    let mut dns = lists();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("story-mailbox");
    dir.write(
        "unlisted.toml",
        &config(
            &dns,
            &format!(
                "desk = \"Example Hosting abuse desk\"\n[incidents.mail]\nsmtp = \"127.0.0.1:{}\"\nfrom = \"abuse@example.net\"\ntls = \"none\"\n",
                smtp.port
            ),
        ),
    );
    let mut log = String::new();
    compromised_mailbox(&mut log, 0);
    dir.write("mail.log", &log);
    // Two feedback-loop complaints about delivered messages of it.
    for sub in ["cur", "tmp"] {
        std::fs::create_dir_all(dir.path().join("fbl").join(sub)).unwrap();
    }
    for n in [1, 5] {
        dir.write(
            &format!("fbl/new/17000000{n}.M1P1.host"),
            &arf(&format!("x{n}@shop.example"), n),
        );
    }

    // The listing and the spamming mailbox land in one incident.
    once(&dir);
    let i = show(&dir, 1);
    assert_eq!(i["state"], "open");
    assert_eq!(i["server"], "mx1");
    assert_eq!(i["cause"], "listing");
    assert_eq!(i["facts"]["senders"][0]["sender"], MAILBOX);
    assert_eq!(i["facts"]["listings"][0]["list"], "spamcop");
    assert_eq!(i["facts"]["complaints"], 2, "{i}");
    assert!(
        plan(&i, "barracuda")["not_yet"]
            .as_str()
            .unwrap()
            .contains("once it is verified")
    );
    // SpamCop has no request to make: it expires a day after the spam.
    let sc = plan(&i, "spamcop");
    assert!(sc["request"].is_null() && sc["not_yet"].is_null(), "{sc}");
    assert!(
        sc["advice"].as_str().unwrap().contains("expected by"),
        "{sc}"
    );

    // Not contained while the mailbox is loose; a listing with spam behind
    // it is not unjustified.
    let o = mv(&dir, 1, "contained", "trying");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!("not held: {MAILBOX}")),
        "{}",
        stderr(&o)
    );
    let o = mv(&dir, 1, "unjustified", "trying");
    assert!(
        stderr(&o).contains("there is evidence of spam"),
        "{}",
        stderr(&o)
    );

    // Hold it: the daemon links the hold and moves the incident itself.
    let o = unlisted(
        dir.path(),
        &[
            "hold",
            "add",
            MAILBOX,
            "--action",
            "reject",
            "--reason",
            "compromised mailbox",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    once(&dir);
    let i = show(&dir, 1);
    assert_eq!(i["state"], "contained", "{i}");

    // The mailbox is the customer's to clean: the operator's word counts.
    let o = mv(&dir, 1, "cleaned", "password reset; customer's PC cleaned");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Verified needs an hour of quiet in the logs: the logs end with the spam.
    let o = mv(&dir, 1, "verified", "looks quiet");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("of the required 1h"), "{}", stderr(&o));
    // Hours of honest mail later, from another customer.
    append(&dir, &messages(0, 20, false));
    once(&dir);
    let o = mv(&dir, 1, "verified", "quiet since the hold");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("no spam for"), "{}", stdout(&o));

    // The removal request cites the evidence.
    let o = unlisted(dir.path(), &["incident", "report", "1"]);
    let report = stdout(&o);
    assert!(
        report
            .contains("Subject: Removal request for 192.0.2.99 (Barracuda Reputation Block List)"),
        "{report}"
    );
    assert!(
        report.contains("form: https://www.barracudacentral.org/rbl/removal-request"),
        "{report}"
    );
    assert!(
        report.contains(&format!("{MAILBOX} held (reject)")),
        "{report}"
    );
    assert!(report.contains("password reset"), "{report}");
    assert!(
        report.contains("Since then the server sent 20 messages"),
        "{report}"
    );

    // Customer notices, one sent through a real SMTP server.
    let o = unlisted(
        dir.path(),
        &[
            "incident",
            "notice",
            "1",
            "suspended",
            "--account",
            "shop",
            "--to",
            "owner@shop.example",
            "--send",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains(MAILBOX), "{}", got[0]);
    assert!(got[0].contains("text/html"), "{}", got[0]);
    let listed = stdout(&unlisted(
        dir.path(),
        &["incident", "notice", "1", "listed"],
    ));
    assert!(
        listed.contains("Our mail server mx1 (192.0.2.99)"),
        "{listed}"
    );
    assert!(listed.contains("Example Hosting abuse desk"), "{listed}");

    // Delisting; the list drops the address; the monitor resolves it.
    let o = mv(
        &dir,
        1,
        "delisting",
        "removal requested on Barracuda's form",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // SpamCop expires first: still delisting while Barracuda lists it.
    dns.rewrite(0, ":127.0.0.2:Blocked\n127.0.0.2\n");
    once(&dir);
    assert_eq!(show(&dir, 1)["state"], "delisting");
    dns.rewrite(1, NOT_LISTED);
    once(&dir);
    let i = show(&dir, 1);
    assert_eq!(i["state"], "resolved", "{i}");
    let timeline: Vec<(String, String)> = i["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["actor"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let moves: Vec<&str> = i["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "moved")
        .map(|e| e["detail"]["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        moves,
        ["contained", "cleaned", "verified", "delisting", "resolved"],
        "{timeline:?}"
    );
    assert!(timeline.iter().any(|(k, _)| k == "refused"));
    assert!(
        timeline
            .iter()
            .any(|(k, a)| k == "moved" && a == "unlisted:monitor")
    );
    let text = stdout(&unlisted(dir.path(), &["incident", "show", "1"]));
    for needle in [
        "state: resolved",
        "listed on spamcop",
        "held (reject) by cli:",
        "no longer listed on spamcop",
        "no longer listed on barracuda",
        "notice \"Outgoing mail from auth:info@shop.example has been suspended\" sent",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    // Listed again later, with no new spam: a late listing, linked to the
    // incident that stopped it.
    dns.rewrite(1, BARRACUDA);
    once(&dir);
    let i = show(&dir, 2);
    assert_eq!(i["related"], 1);
    let late = i["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "late")
        .expect("a late-listing event");
    assert!(
        late["text"]
            .as_str()
            .unwrap()
            .contains("in incident 1 (contained"),
        "{late}"
    );
    assert!(late["text"].as_str().unwrap().contains("late complaints"));
    // Its spam was proven stopped in incident 1: straight to verified, a
    // request, and resolved when Barracuda drops it again.
    let o = mv(&dir, 2, "verified", "late listing of incident 1");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = stdout(&unlisted(dir.path(), &["incident", "report", "2"]));
    assert!(
        report.contains("Removal request for 192.0.2.99"),
        "{report}"
    );
    assert!(report.contains("follows our incident 1"), "{report}");
    assert!(
        report.contains(&format!("{MAILBOX} held (reject)")),
        "{report}"
    );
    let o = mv(&dir, 2, "delisting", "asked again, citing incident 1");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dns.rewrite(1, NOT_LISTED);
    once(&dir);
    assert_eq!(show(&dir, 2)["state"], "resolved");
}

#[test]
fn a_listing_with_no_spam_behind_it_is_unjustified_with_an_evidence_report() {
    let mut dns = lists();
    let dir = TempDir::new("story-unjustified");
    dir.write("unlisted.toml", &config(&dns, ""));
    // Only honest mail on this server.
    dir.write("mail.log", &messages(0, 30, false));
    once(&dir);
    let i = show(&dir, 1);
    assert_eq!(i["cause"], "listing");
    assert!(i["facts"]["senders"].as_array().unwrap().is_empty());
    let o = mv(&dir, 1, "contained", "nothing to hold");
    assert!(stderr(&o).contains("unjustified"), "{}", stderr(&o));
    let o = mv(&dir, 1, "unjustified", "no spam in the logs, no complaints");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let o = unlisted(dir.path(), &["incident", "report", "1", "--json"]);
    let r = &json_lines(&o)[0];
    assert_eq!(r["evidence"]["messages"], 30);
    assert_eq!(r["evidence"]["spamming_senders"], 0);
    assert_eq!(r["evidence"]["complaints"], 0);
    assert_eq!(r["evidence"]["top_senders"][0][0], "auth:amy@example.org");
    let request = plan(r, "barracuda")["request"].as_str().unwrap();
    assert!(request.contains("We found no spam from it"), "{request}");
    assert!(request.contains("30 messages"), "{request}");
    assert!(request.contains("Senders judged spamming: 0"), "{request}");
    let text = stdout(&unlisted(dir.path(), &["incident", "report", "1"]));
    assert!(text.contains("== evidence report"), "{text}");
    // Both lists drop it: resolved by the monitor.
    dns.rewrite(0, NOT_LISTED);
    dns.rewrite(1, NOT_LISTED);
    once(&dir);
    let i = show(&dir, 1);
    assert_eq!(i["state"], "resolved", "{i}");
}

/// `incident notice 1 listed --all-accounts --send`.
fn notify_all(dir: &TempDir) -> std::process::Output {
    unlisted(
        dir.path(),
        &[
            "incident",
            "notice",
            "1",
            "listed",
            "--all-accounts",
            "--send",
        ],
    )
}

#[test]
fn every_customer_of_a_listed_server_gets_the_listed_notice() {
    let dns = lists();
    let smtp = SmtpSink::start();
    let dir = TempDir::new("story-notices");
    let mut log = String::new();
    crate::logs::contact_form(&mut log, 0);
    crate::logs::php_mailer_in(
        &mut log,
        4000,
        "/home/bob/public_html/wp-content/uploads/2024/04",
    );
    dir.write("mail.log", &log);
    dir.write(
        "contacts.txt",
        "# account address\nshop owner@shop.example\n",
    );
    let mail = format!(
        "[incidents.mail]\nsmtp = \"127.0.0.1:{}\"\nfrom = \"abuse@example.net\"\ntls = \"none\"\n",
        smtp.port
    );
    dir.write(
        "unlisted.toml",
        &config(&dns, &format!("contacts = \"contacts.txt\"\n{mail}")),
    );
    once(&dir);
    // bob has no address on file: said, and the exit code says so.
    let o = notify_all(&dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("shop <owner@shop.example>: sent"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("no address for 1 of 2 customers: bob"),
        "{}",
        stderr(&o)
    );
    let got = smtp.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("Hello shop"), "{}", got[0]);
    // cPanel's users directory: CONTACTEMAIL= in the account's file.
    dir.write(
        "cpusers/shop",
        "USER=shop\nCONTACTEMAIL=owner@shop.example\n",
    );
    dir.write("cpusers/bob", "USER=bob\nCONTACTEMAIL=bob@bob.example\n");
    dir.write(
        "unlisted.toml",
        &config(&dns, &format!("contacts = \"cpusers\"\n{mail}")),
    );
    let o = notify_all(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got = smtp.wait_for(3, Duration::from_secs(10));
    assert_eq!(got.len(), 3);
    assert!(got.iter().any(|m| m.contains("Hello bob")));
    // One customer, addressed from the same source.
    let o = unlisted(
        dir.path(),
        &[
            "incident",
            "notice",
            "1",
            "listed",
            "--account",
            "bob",
            "--send",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("sent to bob@bob.example"),
        "{}",
        stdout(&o)
    );
    let shown = show(&dir, 1);
    let notices = shown["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] == "notice")
        .count();
    assert_eq!(notices, 4, "each notice sent is in the incident");
}
