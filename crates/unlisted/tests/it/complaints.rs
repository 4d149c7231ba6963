//! `unlisted complaints ingest`: the 24 real feedback-loop samples of
//! ../shared/data/fbl/ (read in place), duplicates counted once, and a
//! complaint tied to its sender through the Message-ID a real Exim logged.

use std::time::Duration;

use testsupport::TempDir;

use crate::{json_lines, stderr, unlisted};

fn fbl_dir() -> String {
    testsupport::shared_data("fbl").display().to_string()
}

#[test]
fn the_shared_fbl_samples_are_ingested_once_each() {
    let dir = TempDir::new("fbl");
    let o = unlisted(dir.path(), &["complaints", "ingest", "--json", &fbl_dir()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let complaints: Vec<_> = lines.iter().filter(|l| l["type"] == "complaint").collect();
    assert_eq!(complaints.len(), 24);
    let mut providers: Vec<&str> = complaints
        .iter()
        .map(|c| c["provider"].as_str().unwrap())
        .collect();
    providers.sort();
    providers.dedup();
    assert_eq!(
        providers,
        [
            "aol",
            "bluetie",
            "comcast",
            "cox",
            "fastmail",
            "opensrs",
            "rackspace",
            "roadrunner",
            "synacor",
            "usanet",
            "yahoo",
            "zoho"
        ]
    );
    for c in &complaints {
        assert!(c["source_ip"].as_str().is_some(), "{c}");
        assert_eq!(c["duplicate"], false);
    }
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["complaints"], 24);
    assert_eq!(summary["errors"].as_array().unwrap().len(), 0);

    // Reading them again (a re-delivered Maildir, a second forward) stores
    // nothing twice.
    let o = unlisted(dir.path(), &["complaints", "ingest", "--json", &fbl_dir()]);
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(summary["duplicates"], 24);

    // A file that cannot be read and one that is no complaint are named.
    dir.write(
        "note.eml",
        "Subject: hello\nFrom: a@b.example\n\njust a note\n",
    );
    let o = unlisted(
        dir.path(),
        &["complaints", "ingest", "--json", "note.eml", "missing.eml"],
    );
    assert_eq!(o.status.code(), Some(2));
    let summary = json_lines(&o).pop().unwrap();
    assert!(
        summary["not_complaints"][0]
            .as_str()
            .unwrap()
            .starts_with("note.eml: no complaint found")
    );
    assert!(
        summary["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("missing.eml: cannot read")
    );
}

#[test]
fn a_complaint_is_tied_to_the_mailbox_a_real_exim_logged() {
    let (_sink, exim) = crate::exim_shop();
    assert!(crate::send_as_shop(
        &exim,
        &["someone@isp.example"],
        "Great offer"
    ));
    let log = exim.wait_completed(1, Duration::from_secs(20));
    let mid = log
        .split(" id=")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("Exim logged no id=")
        .to_string();

    let dir = TempDir::new("complaint-link");
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nformat = \"exim\"\n",
            exim.mainlog().display()
        ),
    );
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let arf = format!(
        "From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: abuse@host.example
Subject: FW: Great offer
Date: Sat, 28 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"

--b
Content-Type: text/plain

This is an email abuse report.
--b
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 0.1
Original-Mail-From: <info@shop.example>
Original-Rcpt-To: <someone@isp.example>
Received-Date: Sat, 28 Nov 2026 09:59:00 +0000
Source-IP: 198.51.100.25

--b
Content-Type: text/rfc822-headers

From: info@shop.example
To: someone@isp.example
Subject: Great offer
Message-Id: <{mid}>
--b--
"
    );
    dir.write("yahoo.eml", &arf);
    let o = unlisted(dir.path(), &["complaints", "ingest", "--json", "yahoo.eml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c = &json_lines(&o)[0];
    assert_eq!(c["provider"], "yahoo");
    assert_eq!(c["original_message_id"], mid.as_str());
    assert_eq!(c["sender"], "auth:info@shop.example", "{c}");
    assert_eq!(c["linked_by"], "message-id");
    assert_eq!(c["source_ip"], "198.51.100.25");

    let o = unlisted(dir.path(), &["complaints", "senders", "--json"]);
    let counts = json_lines(&o);
    assert_eq!(counts[0]["sender"], "auth:info@shop.example");
    assert_eq!(counts[0]["complaints"], 1);
}

/// An ARF complaint from Comcast's feed about the message with `mid`.
pub(crate) fn arf(mid: &str, n: usize) -> String {
    arf_at(mid, &format!("Mon, 02 Mar 2026 20:{n:02}:00 +0000"))
}

/// As [`arf`], arriving at `date` (RFC 5322 form).
fn arf_at(mid: &str, date: &str) -> String {
    format!(
        "From: feedbackloop@comcastfbl.senderscore.net
To: fbl@host.example
Subject: Comcast Abuse Report
Date: {date}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"

--b
Content-Type: text/plain

This is a Comcast email abuse report.
--b
Content-Type: message/feedback-report

User-Agent: ReturnPathFBL/1.0
Abuse-Type: complaint
Arrival-Date: {date}
Feedback-Type: abuse
Version: 1
Source-IP: 198.51.100.25
Original-Rcpt-To: 27a4767fd6480dcd6301d3711503069b@comcast.net
Original-Mail-From: news@shop.example

--b
Content-Type: message/rfc822

From: news@shop.example
Subject: Weekly deals
Message-ID: <{mid}>

deals
--b--
"
    )
}

#[test]
fn the_daemon_reads_complaints_from_a_maildir_and_they_turn_a_sender_spamming() {
    let hook = testsupport::WebhookReceiver::start();
    let dir = TempDir::new("complaint-daemon");
    // A newsletter: 1,000 delivered messages, nothing wrong in the logs.
    let mut log = String::new();
    for i in 0..1000 {
        let t = 36_000 + i * 30;
        let ts = format!(
            "2026-03-02 {:02}:{:02}:{:02}",
            t / 3600,
            t / 60 % 60,
            t % 60
        );
        let id = format!("1rK{:03}-000{:03}-{:02}", i % 1000, i / 1000, i % 100);
        log.push_str(&format!("{ts} {id} <= news@shop.example H=(office) [198.51.100.7] P=esmtpa A=login:news@shop.example S=900 id=n{i}@shop.example for sub{i}@comcast.example\n"));
        log.push_str(&format!("{ts} {id} => sub{i}@comcast.example R=dnslookup T=remote_smtp H=mx.comcast.example [192.0.2.5] C=\"250 OK\"\n"));
        log.push_str(&format!("{ts} {id} Completed\n"));
    }
    dir.write("mail.log", &log);
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.path().join("fbl").join(sub)).unwrap();
    }
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[complaints]\nmaildirs = [\"fbl\"]\n\n[alerts.webhook]\nurl = \"{}\"\n",
            hook.url
        ),
    );
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // `status` lists senders whose verdict moved from ok.
    let sender = |lines: &[serde_json::Value]| {
        lines
            .iter()
            .find(|l| l["type"] == "sender" && l["sender"] == "auth:news@shop.example")
            .cloned()
    };
    let before = sender(&json_lines(&unlisted(dir.path(), &["status", "--json"])));
    assert!(before.is_none(), "{before:?}");

    // Five complaints arrive (5 per thousand delivered: Gmail and Yahoo
    // refuse mail from 3 per thousand), after a message that the MIME
    // parser of this (debug) build panics on (found by fuzzing; see the
    // feedback crate's tests).
    std::fs::write(
        dir.path().join("fbl/new/16999999.M1P1.host"),
        b"Content-Type:multipart;boundary==_1432\n\n--=_1432Content-Type:message/rfc822\n\nContent-Type:message/rfc822\n\n\n--=_1432--",
    )
    .unwrap();
    for n in 0..5 {
        dir.write(
            &format!("fbl/new/17000000{n}.M1P1.host"),
            &arf(&format!("n{}@shop.example", n * 7), n),
        );
    }
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("its parser failed"), "{}", stderr(&o));
    let after = sender(&json_lines(&unlisted(dir.path(), &["status", "--json"]))).unwrap();
    assert_eq!(after["verdict"], "spamming", "{after}");
    // Read once: moved to cur/ as seen.
    assert_eq!(
        std::fs::read_dir(dir.path().join("fbl/new"))
            .unwrap()
            .count(),
        0
    );
    let cur: Vec<String> = std::fs::read_dir(dir.path().join("fbl/cur"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cur.len(), 6);
    assert!(cur.iter().all(|n| n.ends_with(":2,S")), "{cur:?}");
    let counts = json_lines(&unlisted(dir.path(), &["complaints", "senders", "--json"]));
    assert_eq!(counts[0]["complaints"], 5);
    let alert = hook
        .wait_for(1, std::time::Duration::from_secs(5))
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .find(|v| v["type"] == "sender")
        .expect("no sender alert");
    assert_eq!(alert["sender"], "auth:news@shop.example");
    assert!(
        alert["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "complaints"),
        "{alert}"
    );
    // A restart feeds nothing twice.
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let senders_alerts = hook
        .bodies()
        .iter()
        .filter(|b| b.contains("\"sender\""))
        .count();
    assert_eq!(senders_alerts, 1);
}

#[test]
fn a_complaint_that_arrives_before_its_message_completes_is_tied_to_it_later() {
    let dir = TempDir::new("complaint-relink");
    // A message still open in the log: bounced for one recipient, not
    // completed yet.
    let id = crate::logs::exim_id(3);
    dir.write(
        "mail.log",
        &format!(
            "2026-03-02 10:00:00 {id} <= info@shop.example H=(pc) [203.0.113.5]:50000 P=esmtpsa A=dovecot_plain:info@shop.example S=900 id=late3@shop.example for a@example.net\n\
             2026-03-02 10:00:01 {id} ** a@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.25]: SMTP error from remote mail server after RCPT TO:<a@example.net>: 550 5.1.1 User unknown\n"
        ),
    );
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.path().join("fbl").join(sub)).unwrap();
    }
    dir.write(
        "fbl/new/1700000001.M1P1.host",
        &arf("late3@shop.example", 1),
    );
    dir.write(
        "unlisted.toml",
        "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[complaints]\nmaildirs = [\"fbl\"]\n",
    );
    let senders = |dir: &TempDir| {
        json_lines(&unlisted(dir.path(), &["complaints", "senders", "--json"]))
            .iter()
            .map(|l| l["sender"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        senders(&dir),
        ["from:news@shop.example"],
        "only the envelope to go by"
    );
    // The message completes; the complaint now counts against the mailbox.
    let mut log = std::fs::read_to_string(dir.path().join("mail.log")).unwrap();
    log += &format!("2026-03-02 10:05:00 {id} Completed\n");
    std::fs::write(dir.path().join("mail.log"), log).unwrap();
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(senders(&dir), ["auth:info@shop.example"]);
}

/// `secs` as Exim writes it (UTC here).
fn exim_time(secs: i64) -> String {
    maillog::Stamp { secs, millis: 0 }.iso().replace('T', " ")
}

#[test]
fn a_restart_counts_complaints_against_the_whole_weeks_mail() {
    // A newsletter mails 300 a day for a week and draws three complaints:
    // 1.4 per thousand delivered, suspicious, not spamming. After a
    // restart the rate must be the same: counted against the week's mail,
    // not the last day's (which made it 10 per thousand: spamming, held
    // silently, so that when the list then went bad, nobody was told).
    let hook = testsupport::WebhookReceiver::start();
    let dir = TempDir::new("complaint-restart");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = now - 7 * 86_400 + 3_600;
    let message = |i: i64, t: i64| {
        let id = format!("1rK{:03}-000{:03}-{:02}", i % 1000, i / 1000, i % 100);
        let ts = exim_time(t);
        format!(
            "{ts} {id} <= news@shop.example H=(office) [198.51.100.7] P=esmtpa A=login:news@shop.example S=900 id=n{i}@shop.example for sub{i}@comcast.example\n\
             {ts} {id} => sub{i}@comcast.example R=dnslookup T=remote_smtp H=mx.comcast.example [192.0.2.5] C=\"250 OK\"\n\
             {ts} {id} Completed\n"
        )
    };
    let bounced = |i: i64, t: i64| {
        let id = format!("1rK{:03}-000{:03}-{:02}", i % 1000, i / 1000, i % 100);
        let ts = exim_time(t);
        format!(
            "{ts} {id} <= news@shop.example H=(office) [198.51.100.7] P=esmtpa A=login:news@shop.example S=900 id=n{i}@shop.example for dead{i}@comcast.example\n\
             {ts} {id} ** dead{i}@comcast.example R=dnslookup T=remote_smtp H=mx.comcast.example [192.0.2.5]: SMTP error from remote mail server after RCPT TO:<dead{i}@comcast.example>: 550 5.1.1 User unknown\n\
             {ts} {id} Completed\n"
        )
    };
    let log: String = (0..2100).map(|i| message(i, start + i * 288)).collect();
    dir.write("mail.log", &log);
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.path().join("fbl").join(sub)).unwrap();
    }
    // Complaints about mail of the first, fourth and last day, arriving
    // an hour ago.
    let date = std::process::Command::new("date")
        .args(["-R", "-u", "-d", &format!("@{}", now - 3_600)])
        .output()
        .unwrap();
    let date = String::from_utf8(date.stdout).unwrap();
    for (k, n) in [10, 1000, 2000].into_iter().enumerate() {
        dir.write(
            &format!("fbl/new/17000000{k}.M1P1.host"),
            &arf_at(&format!("n{n}@shop.example"), date.trim()),
        );
    }
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[complaints]\nmaildirs = [\"fbl\"]\n\n[alerts.webhook]\nurl = \"{}\"\n",
            hook.url
        ),
    );
    let verdict = || {
        json_lines(&unlisted(dir.path(), &["status", "--json"]))
            .into_iter()
            .find(|l| l["type"] == "sender" && l["sender"] == "auth:news@shop.example")
            .map(|l| l["verdict"].as_str().unwrap().to_string())
    };
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(verdict().as_deref(), Some("suspicious"));
    let add = |text: String| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join("mail.log"))
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .unwrap();
    };
    let alerts = || {
        std::thread::sleep(Duration::from_millis(300));
        hook.bodies()
            .iter()
            .filter(|b| b.contains("\"sender\"") && b.contains("\"spamming\""))
            .count()
    };
    // Restarted, one more message: the same rate, no alert.
    add(message(2100, now - 1_800));
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(verdict().as_deref(), Some("suspicious"));
    assert_eq!(alerts(), 0, "{:?}", hook.bodies());
    // Then the list goes bad (thirty dead addresses in half an hour): it
    // turns spamming now, and that is said.
    add((0..30)
        .map(|k| bounced(2101 + k, now - 1_700 + k * 50))
        .collect());
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(verdict().as_deref(), Some("spamming"));
    assert_eq!(alerts(), 1, "{:?}", hook.bodies());
}
