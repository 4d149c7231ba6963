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
