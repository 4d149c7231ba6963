//! Real MTA logs: Debian's Exim (cPanel's log selector) and Postfix (from
//! its unpacked package), started by the tests on loopback, take
//! authenticated submissions from swaks and sendmail submissions, and relay
//! to an SMTP sink that refuses some recipients. `logs analyze` must
//! understand every line they wrote and name the senders.

use std::path::PathBuf;
use std::time::Duration;

use testsupport::{
    Dovecot, Exim, Postfix, SmtpSink, Syslog, TempDir, WebhookReceiver, completed_lines,
    imap_login_guesses, smtp_auth_guesses, swaks, wait_for,
};

use crate::enforce::Kill;
use crate::{json_lines, stderr, stdout, unlisted};

/// Script directories under /home (attribution keys on home paths),
/// removed when dropped.
struct Homes(Vec<PathBuf>);

impl Homes {
    fn dir(&mut self, account: &str, sub: &str) -> PathBuf {
        let home = PathBuf::from(format!(
            "/home/unlisted-test-{}-{account}",
            std::process::id()
        ));
        let d = home.join(sub);
        std::fs::create_dir_all(&d).expect("create script dir under /home (tests run as root)");
        self.0.push(home);
        d
    }
}

impl Drop for Homes {
    fn drop(&mut self) {
        for h in &self.0 {
            let _ = std::fs::remove_dir_all(h);
        }
    }
}

/// A stolen mailbox: 12 wrong passwords tried from 6 loopback networks
/// (refused: no message), then 24 SMTP AUTH submissions from 12 networks,
/// every third also to an address that does not exist. Returns how many
/// messages the MTA will finish: the 24 and one bounce per dead address.
fn stolen_mailbox(port: u16) -> usize {
    for i in 0..12 {
        let ip = format!("127.0.{}.1", 100 + i % 6);
        assert!(!swaks(
            port,
            &ip,
            Some(("info@shop.example", &format!("guess{i}"))),
            "forged@other.example",
            &["friend@dest.example"],
            "guess"
        ));
    }
    let mut messages = 0;
    for i in 0..24 {
        let ip = format!("127.0.{}.1", i % 12 + 1);
        let friend = format!("friend{i}@dest.example");
        let dead = format!("nosuchuser{i}@dest.example");
        let mut to = vec![friend.as_str()];
        if i % 3 == 0 {
            to.push(dead.as_str());
            messages += 1; // the MTA's bounce to the sender
        }
        assert!(swaks(
            port,
            &ip,
            Some(("info@shop.example", "secret")),
            "forged@other.example",
            &to,
            "Invoice => \"urgent\""
        ));
        messages += 1;
    }
    messages
}

/// `n` messages of a PHP mailer dropped in `dir`, each to one parcel
/// address, through `exim -t`; returns `n`.
fn php_parcels(exim: &Exim, dir: &std::path::Path, from: &str, n: usize) -> usize {
    for i in 0..n {
        exim.sendmail(
            dir,
            from,
            &format!("To: parcel{i}@dest.example\nSubject: Your parcel\n\nclick\n"),
        );
    }
    n
}

/// One newsletter per subject from `news@shop.example` (SMTP AUTH) to 50
/// addresses: its `<=` line (+received_recipients) is over the 870
/// characters at which Exim splits a line for syslog. (Its To: header
/// stays under SMTP's 998.) Returns how many were sent.
fn newsletters(port: u16, from_ip: &str, subjects: &[&str]) -> usize {
    let list: Vec<String> = (0..50).map(|i| format!("s{i:02}@dest.example")).collect();
    let to: Vec<&str> = list.iter().map(String::as_str).collect();
    for subject in subjects {
        assert!(swaks(
            port,
            from_ip,
            Some(("news@shop.example", "secret")),
            "news@shop.example",
            &to,
            subject
        ));
    }
    subjects.len()
}

/// Relaying without AUTH from another address: refused at RCPT, a
/// rejection line and no message.
fn relay_refused(port: u16) {
    assert!(!swaks(
        port,
        "127.0.50.1",
        None,
        "x@other.example",
        &["y@dest.example"],
        "relay?"
    ));
}

/// `logs analyze --json` on a real log: every line understood, `messages`
/// messages all complete; returns the JSON lines.
fn analyze_real(
    log: &std::path::Path,
    format: &str,
    messages: usize,
    raw: &str,
) -> Vec<serde_json::Value> {
    let dir = TempDir::new("mta");
    let o = crate::analyze_both_ways(dir.path(), &["--json", log.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["format"], format);
    assert_eq!(summary["not_understood"], 0, "{summary:#}\n{raw}");
    assert_eq!(summary["messages"].as_u64().unwrap() as usize, messages);
    assert_eq!(summary["incomplete"], 0);
    lines
}

fn sender(lines: &[serde_json::Value], s: &str) -> serde_json::Value {
    lines
        .iter()
        .find(|l| l["sender"] == s)
        .unwrap_or_else(|| panic!("no sender {s}: {lines:#?}"))
        .clone()
}

/// The stolen mailbox's report.
fn assert_stolen_mailbox(lines: &[serde_json::Value]) {
    let mailbox = sender(lines, "auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert_eq!(mailbox["messages"], 24);
    assert_eq!(mailbox["client_ips"], 12);
    assert_eq!(mailbox["bounced"], 8);
    assert!(mailbox["reasons"].to_string().contains("login_networks"));
    // The guesses before its first login, as the MTA logged them.
    let failed = mailbox["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "failed_logins")
        .unwrap_or_else(|| panic!("no failed_logins: {mailbox:#}"));
    let detail = failed["detail"].as_str().unwrap();
    assert!(
        detail.contains("12 failed logins from 6 addresses"),
        "{mailbox:#}"
    );
    assert!(
        failed["samples"][0]
            .as_str()
            .unwrap()
            .contains("127.0.105.1"),
        "{mailbox:#}"
    );
}

/// `logs messages` on a real log: the stolen mailbox's 24 messages (with
/// their subject whole where the MTA logs it: Exim's `T=`; Postfix logs
/// none without a header_checks rule), and each dead address bounced
/// with the sink's refusal quoted.
fn assert_stolen_mailbox_messages(log: &std::path::Path, subjects: bool) {
    let dir = TempDir::new("mta-messages");
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "messages",
            "--json",
            "--sender",
            "auth:info@shop.example",
            log.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let (summary, msgs) = lines.split_last().unwrap();
    assert_eq!(summary["matched"], 24, "{summary:#}");
    assert_eq!(summary["not_understood"], 0);
    let mut dead = 0;
    for m in msgs {
        if subjects {
            assert_eq!(m["subject"], "Invoice => \"urgent\"", "{m:#}");
        }
        assert_eq!(m["envelope_from"], "forged@other.example");
        for r in m["recipients"].as_array().unwrap() {
            let address = r["address"].as_str().unwrap();
            if address.starts_with("nosuchuser") {
                dead += 1;
                assert_eq!(r["outcome"], "bounced", "{m:#}");
                assert!(r["reply"].as_str().unwrap().contains("550 5.1.1"), "{m:#}");
            } else {
                assert_eq!(r["outcome"], "delivered", "{m:#}");
            }
        }
    }
    assert_eq!(dead, 8);
}

#[test]
fn real_exim_log_is_fully_understood_and_names_the_senders() {
    exim_shapes("");
}

/// The same with everything Exim can log (`log_selector = +all`), as an
/// admin sets it to find out what happened: millisecond stamps, `[pid]`,
/// queue runs, delivery times, TLS and rewriting notes, connections
/// without mail. Every line is still understood, and the senders named
/// alike.
#[test]
fn real_exim_logging_everything_is_fully_understood_and_names_the_senders() {
    exim_shapes("log_selector = +all");
}

/// The shapes of a shared server through a real Exim (`main` lines added
/// to its config): a stolen mailbox, a relay refused, a PHP mailer in
/// uploads and an honest contact form whose mail is forwarded.
fn exim_shapes(main: &str) {
    let sink = SmtpSink::start();
    let exim = Exim::start_opts(
        sink.port,
        &[("info@shop.example", "secret")],
        false,
        main,
        "",
    );
    let mut homes = Homes(Vec::new());
    let uploads = homes.dir("bob", "public_html/wp-content/uploads/2024");
    let contact = homes.dir("shop", "public_html/contact");
    let pid = std::process::id();

    let mut completed = stolen_mailbox(exim.port);
    relay_refused(exim.port);
    // A PHP mailer dropped in uploads, and the shop's honest contact form.
    completed += php_parcels(&exim, &uploads, "wordpress@bob.example", 25);
    // The form writes to the owner's address here, which forwards it on.
    for _ in 0..3 {
        exim.sendmail(
            &contact,
            "shop@shop.example",
            "To: owner@alias.example\nSubject: Contact form\n\nhello\n",
        );
        completed += 1;
    }
    let log = exim.wait_completed(completed, Duration::from_secs(30));
    assert_eq!(completed_lines(&log), completed, "{log}");

    let lines = analyze_real(&exim.mainlog(), "exim", completed, &log);
    assert_stolen_mailbox(&lines);
    assert_stolen_mailbox_messages(&exim.mainlog(), true);
    let find = |s: &str| sender(&lines, s);
    let php = find(&format!("script:{}", uploads.display()));
    assert_eq!(php["verdict"], "spamming", "{php:#}");
    assert_eq!(php["account"], format!("unlisted-test-{pid}-bob"));
    assert_eq!(php["messages"], 25);

    let form = find(&format!("script:{}", contact.display()));
    assert_eq!(form["verdict"], "ok");
    // Logged `=> owner@dest.example <owner@alias.example>` and
    // `-> backup@dest.example <owner@alias.example>`: one recipient a
    // message, delivered, not the forward's two targets besides.
    assert!(
        log.contains("=> owner@dest.example <owner@alias.example>"),
        "{log}"
    );
    assert_eq!(
        (form["recipients"].as_u64(), form["bounced"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(form["account"], format!("unlisted-test-{pid}-shop"));

    // Exim's own bounces are nobody's sending.
    assert!(
        lines.iter().all(|l| l["sender"] != "local:Debian-exim"),
        "{lines:#?}"
    );
    // The sink really refused the dead addresses and took the rest.
    assert_eq!(
        sink.wait_for(completed, Duration::from_secs(5)).len(),
        completed
    );
}

/// A real Exim logging to its main log and through syslog at once
/// (`log_file_path = syslog : …`) to a real rsyslogd, which writes
/// /var/log/maillog's format. The two logs must say the same of every
/// sender. Through syslog, Exim splits a line longer than 870 characters
/// into `[i/n]` parts (the 50-recipient message), writes a refusal to both
/// its main and its reject log (`syslog_duplication`), and the reject log's
/// copy of a refusal after DATA carries the message's headers as `[i\n]`
/// parts.
#[test]
fn real_exim_through_syslog_says_what_its_main_log_says() {
    // `Nov 29 00:15:44 host exim[123]: `
    exim_through_syslog_as(Syslog::start(), |l| {
        l.as_bytes()[0].is_ascii_uppercase() && l.as_bytes()[3] == b' '
    });
}

/// The same with rsyslog's own default format, RFC 3339 stamps.
#[test]
fn real_exim_through_syslog_with_rfc3339_stamps_says_what_its_main_log_says() {
    // `2026-11-29T00:15:44.123456+00:00 host exim[123]: `
    exim_through_syslog_as(Syslog::start_with("RSYSLOG_FileFormat"), |l| {
        l.as_bytes()[10] == b'T' && l.as_bytes()[19] == b'.'
    });
}

/// `stamped` tells the rsyslogd's stamp on a line of its file.
fn exim_through_syslog_as(syslog: Syslog, stamped: fn(&str) -> bool) {
    let sink = SmtpSink::start();
    let exim = Exim::start_through_syslog(
        sink.port,
        &[
            ("info@shop.example", "secret"),
            ("news@shop.example", "secret"),
        ],
        "acl_smtp_data = acl_data",
        "acl_data:\n  deny condition = ${if match{$h_subject:}{refuse me}}\n       message = content refused\n  accept\n",
        &syslog,
    );
    let mut homes = Homes(Vec::new());
    let uploads = homes.dir("dan", "public_html/wp-content/uploads/2025");

    let mut completed = stolen_mailbox(exim.port);
    // Written to both the main and the reject log.
    relay_refused(exim.port);
    // Refused after DATA: no message, a refusal with headers in the
    // reject log.
    assert!(!swaks(
        exim.port,
        "127.0.51.1",
        Some(("news@shop.example", "secret")),
        "news@shop.example",
        &["z@dest.example"],
        "refuse me"
    ));
    completed += newsletters(exim.port, "127.0.52.1", &["November news"]);
    completed += php_parcels(&exim, &uploads, "wordpress@dan.example", 12);
    let log = exim.wait_completed(completed, Duration::from_secs(30));
    assert_eq!(completed_lines(&log), completed, "{log}");
    let maillog = syslog.wait_lines(" Completed", completed, Duration::from_secs(10));
    // The real thing did what this test is about.
    assert!(maillog.contains(" exim["), "{maillog}");
    assert!(maillog.lines().all(stamped), "{maillog}");
    assert!(maillog.contains("]: [1/"), "no line was split: {maillog}");
    // `[i\n]`: part i of n, ending where the text had a newline.
    assert!(
        maillog.contains("]   Subject: refuse me"),
        "no reject log headers: {maillog}"
    );
    assert_eq!(
        maillog.matches("relay not permitted").count(),
        2,
        "syslog_duplication: {maillog}"
    );

    // The refusal after DATA is a message too, one that never completes.
    let main = analyze_real(&exim.mainlog(), "exim", completed + 1, &log);
    let through = analyze_real(&syslog.maillog(), "exim", completed + 1, &maillog);
    // Sample lines quoted as evidence carry syslog's head in one; Exim's
    // own stamp follows it in both.
    fn bare(s: &str) -> &str {
        match s.find("]: ") {
            Some(i) if s[..i].contains(" exim") => &s[i + 3..],
            _ => s,
        }
    }
    let senders = |lines: &[serde_json::Value]| crate::senders_stripped(lines, bare);
    assert_eq!(senders(&through), senders(&main));
    assert_stolen_mailbox(&through);
    let news = sender(&through, "auth:news@shop.example");
    assert_eq!(news["recipients"], 50, "{news:#}");
    let php = sender(&through, &format!("script:{}", uploads.display()));
    assert_eq!(php["messages"], 12, "{php:#}");
    let (a, b) = (through.last().unwrap(), main.last().unwrap());
    for key in ["senders", "spamming", "suspicious", "first", "last"] {
        assert!(!b[key].is_null(), "{key}: {b:#}");
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_stolen_mailbox_messages(&syslog.maillog(), true);
    reject_log_beside_and_alone(&exim, &main);
}

/// Exim's reject log, given with its main log (as `/var/log/exim_*`
/// gives it), is left out: the result is the main log's alone. Given
/// alone it is read, header copies and all, every line understood.
fn reject_log_beside_and_alone(exim: &Exim, main: &[serde_json::Value]) {
    let (rejectlog, mainlog) = (exim.rejectlog(), exim.mainlog());
    let copy = std::fs::read_to_string(&rejectlog).unwrap();
    // The real thing wrote the refusal after DATA with its headers.
    assert!(
        copy.contains("\nEnvelope-from: <news@shop.example>\n"),
        "{copy}"
    );
    assert!(copy.contains("  Subject: refuse me\n"), "{copy}");
    let dir = TempDir::new("mta-rejectlog");
    let (r, m) = (rejectlog.to_str().unwrap(), mainlog.to_str().unwrap());
    let both = json_lines(&crate::analyze_both_ways(dir.path(), &["--json", r, m]));
    let (summary, senders) = both.split_last().unwrap();
    assert_eq!(senders, &main[..main.len() - 1]);
    assert_eq!(summary["read_order"], serde_json::json!([m]));
    assert_eq!(summary["copies_left_out"][0]["file"], r, "{summary:#}");
    assert_eq!(
        summary["failed_logins"],
        main.last().unwrap()["failed_logins"]
    );

    let alone = json_lines(&crate::analyze_both_ways(dir.path(), &["--json", r]));
    let summary = alone.last().unwrap();
    assert_eq!(summary["not_understood"], 0, "{summary:#}\n{copy}");
    assert_eq!(summary["lines"].as_u64(), Some(copy.lines().count() as u64));
    assert_eq!(summary["failed_logins"]["failures"], 12, "{summary:#}");
}

/// The daemon following, live, the mail log a real rsyslogd writes for a
/// real Exim: a PHP mailer is alerted on while it sends, the newsletters'
/// lines split for syslog are read whole, and what the daemon stored of
/// each sender's mail is what Exim's own main log says of it.
#[test]
fn the_daemon_follows_a_real_exim_through_syslog_live() {
    let sink = SmtpSink::start();
    let syslog = Syslog::start();
    let exim = Exim::start_through_syslog(
        sink.port,
        &[("news@shop.example", "secret")],
        "",
        "",
        &syslog,
    );
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("syslog-serve");
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nformat = \"exim\"\n\n[ingest]\npoll = \"100ms\"\n\n[alerts.webhook]\nurl = \"{}\"\n",
            syslog.maillog().display(),
            hook.url
        ),
    );
    let mut daemon = crate::spawn(dir.path(), &["serve"]);
    let mut homes = Homes(Vec::new());
    let uploads = homes.dir("erin", "public_html/wp-content/uploads/2025/11");
    let completed = newsletters(exim.port, "127.0.60.1", &["Issue 1", "Issue 2", "Issue 3"])
        + php_parcels(&exim, &uploads, "wordpress@erin.example", 25);
    let log = exim.wait_completed(completed, Duration::from_secs(30));
    assert_eq!(completed_lines(&log), completed, "{log}");
    let php = format!("script:{}", uploads.display());
    let alert = hook
        .wait_for(1, Duration::from_secs(20))
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .find(|v| v["type"] == "sender")
        .expect("no sender alert");
    assert_eq!(alert["sender"], php.as_str(), "{alert:#}");
    assert_eq!(alert["event"], "spamming");
    let stored = || {
        json_lines(&unlisted(dir.path(), &["status", "--json"]))
            .into_iter()
            .find(|l| l["type"] == "log")
            .and_then(|l| l["messages"].as_u64())
            .unwrap_or(0) as usize
    };
    let n = wait_for(Duration::from_secs(20), || {
        (stored() == completed).then_some(())
    });
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(n.is_some(), "{} of {completed} stored", stored());

    let status = json_lines(&unlisted(dir.path(), &["status", "--json"]));
    let found = sender(&status, &php);
    assert_eq!(
        (found["verdict"].as_str(), found["messages"].as_u64()),
        (Some("spamming"), Some(25)),
        "{found:#}"
    );
    // What the daemon stored of each sender's mail is what Exim's own
    // main log says of it.
    let messages = |args: &[&str]| -> Vec<serde_json::Value> {
        let o = unlisted(
            dir.path(),
            &[&["logs", "messages", "--json"], args].concat(),
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut lines = json_lines(&o);
        lines.pop(); // the summary
        lines
            .iter()
            .map(|m| {
                let rcpts: Vec<_> = m["recipients"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| (r["address"].clone(), r["outcome"].clone()))
                    .collect();
                serde_json::json!([
                    m["id"],
                    m["sender"],
                    m["envelope_from"],
                    m["subject"],
                    m["client_ip"],
                    m["account"],
                    rcpts
                ])
            })
            .collect()
    };
    let mainlog = exim.mainlog().display().to_string();
    for (s, n) in [("auth:news@shop.example", 3), (php.as_str(), 25)] {
        let stored = messages(&["--stored", "--sender", s]);
        assert_eq!(stored.len(), n, "{s}: {stored:#?}");
        assert_eq!(stored, messages(&["--sender", s, &mainlog]), "{s}");
    }
}

#[test]
fn real_postfix_log_is_fully_understood_and_names_the_senders() {
    postfix_shapes(None, "");
}

/// The same with long queue ids (`enable_long_queue_ids = yes`, many
/// admins' choice so that ids do not repeat across days: `4bRpQ74zkPz9sQ`)
/// and every access decision logged, permits too
/// (`smtpd_log_access_permit_actions = static:all`).
#[test]
fn real_postfix_with_long_queue_ids_and_permits_logged_is_fully_understood() {
    let log = postfix_shapes(
        None,
        "enable_long_queue_ids = yes\nsmtpd_log_access_permit_actions = static:all",
    );
    // `… postfix/qmgr[77]: 4bRpQ74zkPz9sQ: removed`
    let removed = log.lines().filter(|l| l.ends_with(": removed"));
    let ids: Vec<&str> = removed.filter_map(|l| l.rsplit(": ").nth(1)).collect();
    assert!(
        !ids.is_empty() && ids.iter().all(|id| id.len() > 11),
        "{log}"
    );
    assert!(log.contains(": permit: "), "{log}");
}

/// The same through syslog to a real rsyslogd in its own default format
/// (RFC 3339 stamps, Debian 12's rsyslog.conf), as most servers log.
#[test]
fn real_postfix_through_syslog_with_rfc3339_stamps_is_fully_understood() {
    postfix_shapes(Some(Syslog::start_with("RSYSLOG_FileFormat")), "");
}

/// A bot's three sessions from 127.0.`first`.1 on, four wrong passwords
/// each for info@shop.example (`guess` runs one session and returns how
/// many were refused), then the owner's SMTP AUTH login through `smtp`.
fn guesses_then_login(first: u8, smtp: u16, guess: impl Fn(&str, &[&str]) -> usize) {
    for n in 0..3 {
        let guesses = ["123456", "password", "shop2026", "info"];
        assert_eq!(guess(&format!("127.0.{}.1", first + n), &guesses), 4);
    }
    assert!(swaks(
        smtp,
        &format!("127.0.{}.1", first + 3),
        Some(("info@shop.example", "secret")),
        "info@shop.example",
        &["friend@dest.example"],
        "hello"
    ));
}

/// `logs analyze` on a mail log after [`guesses_then_login`]: every line
/// understood, the 12 guesses counted, and the login named for them.
/// Returns the summary.
fn assert_named_after_guesses(
    dir: &TempDir,
    logs: &[&std::path::Path],
    raw: &str,
) -> serde_json::Value {
    let mut args = vec!["--json", "--all"];
    args.extend(logs.iter().map(|l| l.to_str().unwrap()));
    let o = crate::analyze_both_ways(dir.path(), &args);
    let lines = json_lines(&o);
    let summary = lines.last().unwrap().clone();
    assert_eq!(summary["not_understood"], 0, "{summary:#}\n{raw}");
    assert_eq!(
        summary["failed_logins"]["failures"], 12,
        "{summary:#}\n{raw}"
    );
    let mailbox = sender(&lines, "auth:info@shop.example");
    assert!(
        mailbox["reasons"]
            .to_string()
            .contains("12 failed logins from 3 addresses"),
        "{mailbox:#}\n{raw}"
    );
    summary
}

/// Through Ubuntu's rsyslog setup, which folds a line that comes again
/// alike from the same process into `message repeated N times: [ …]`:
/// Exim writes each failed login twice through syslog (main and reject
/// log), and a bot that tries four passwords in each of its sessions,
/// from three addresses, leaves one line and one fold of seven a session.
/// Each guess counts once, so the login after them is named for them.
#[test]
fn real_exim_through_ubuntus_rsyslog_counts_each_folded_guess() {
    let sink = SmtpSink::start();
    let syslog = Syslog::start_reducing_repeats();
    let exim = Exim::start_through_syslog(
        sink.port,
        &[("info@shop.example", "secret")],
        "",
        "",
        &syslog,
    );
    guesses_then_login(60, exim.port, |ip, guesses| {
        smtp_auth_guesses(exim.port, ip, "info@shop.example", guesses)
    });
    exim.wait_completed(1, Duration::from_secs(30));
    let log = syslog.wait_lines(" Completed", 1, Duration::from_secs(10));
    // The real thing folded the guesses (within a second each; a session
    // split across a second boundary folds in two).
    let folds = log.matches("]: message repeated ").count();
    assert!((3..=6).contains(&folds), "{log}");
    let dir = TempDir::new("mta-repeats");
    let summary = assert_named_after_guesses(&dir, &[&syslog.maillog()], &log);
    // Each guess is written twice: 24 lines, those not folded and the
    // copies the folds stand for.
    let unfolded = log.matches("authenticator failed").count() - folds;
    assert_eq!(summary["repeated"].as_u64(), Some(24 - unfolded as u64));
    // Exim's main log says the same.
    let main = crate::analyze_both_ways(dir.path(), &["--json", exim.mainlog().to_str().unwrap()]);
    let main = json_lines(&main);
    assert_eq!(main.last().unwrap()["failed_logins"]["failures"], 12);
}

/// Debian's and Ubuntu's mail log holds Dovecot's lines next to
/// Postfix's. A bot guesses the mailbox's password over IMAP, four tries
/// in each of three sessions from three addresses, then logs in over
/// SMTP: the login is named for the twelve guesses before it.
#[test]
fn real_postfix_and_dovecot_name_a_login_after_imap_guesses() {
    let sink = SmtpSink::start();
    let syslog = Syslog::start();
    let postfix =
        Postfix::start_through_syslog(sink.port, "shop.example", &[("info", "secret")], &syslog);
    let dovecot = Dovecot::start_through_syslog(&[("info@shop.example", "secret")], &syslog);
    guesses_then_login(70, postfix.port, |ip, guesses| {
        imap_login_guesses(dovecot.port, ip, "info@shop.example", guesses)
    });
    postfix.wait_removed(1, Duration::from_secs(30));
    let log = syslog.wait_lines(" dovecot: imap-login: ", 3, Duration::from_secs(10));
    // The real thing logged each session's guesses in one line.
    assert_eq!(log.matches("(auth failed, 4 attempts").count(), 3, "{log}");
    let dir = TempDir::new("mta-dovecot");
    let summary = assert_named_after_guesses(&dir, &[&syslog.maillog()], &log);
    assert_eq!(summary["format"], "postfix");
}

/// Runs the real logrotate once on `log` (`-f`: whatever its age), its
/// other settings `how`, its state kept in `dir`.
fn logrotate(dir: &TempDir, log: &std::path::Path, how: &str) {
    let conf = dir.write(
        "logrotate.conf",
        &format!("{} {{\n  rotate 5\n  {how}\n}}\n", log.display()),
    );
    let o = std::process::Command::new(testsupport::find_program("logrotate"))
        .arg("-f")
        .arg("-s")
        .arg(dir.path().join("logrotate.state"))
        .arg(&conf)
        .output()
        .expect("run logrotate");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `n` messages submitted over SMTP AUTH as info@shop.example from
/// `ip`, to friend`first`@dest.example on.
fn submit(port: u16, ip: &str, first: usize, n: usize) {
    for i in first..first + n {
        let to = format!("friend{i}@dest.example");
        let auth = Some(("info@shop.example", "secret"));
        assert!(swaks(port, ip, auth, "info@shop.example", &[&to], "hello"));
    }
}

/// Waits until the daemon in `dir` has stored `n` messages, and no more.
fn wait_stored(dir: &TempDir, n: usize) {
    let got = wait_for(Duration::from_secs(20), || {
        let s = crate::ingest::stored(dir);
        (s >= n as i64).then_some(s)
    });
    assert_eq!(got, Some(n as i64), "stored");
}

/// A real logrotate rotating a real Exim's main log while `unlisted
/// serve` follows it, the daemon killed with SIGKILL on the way: by
/// rename with the old file compressed at once, by copytruncate, and by
/// rename while the daemon is down (the unread rest then only in the
/// compressed file). Every message is stored once.
#[test]
fn real_logrotate_under_a_running_daemon_loses_and_repeats_nothing() {
    let sink = SmtpSink::start();
    let exim = Exim::start(sink.port, "info@shop.example", "secret");
    let dir = TempDir::new("mta-logrotate");
    let mainlog = exim.mainlog();
    rotated_under_a_daemon(&dir, &mainlog, "exim", exim.port, &sink, |k| {
        let how = match k {
            // Renamed to mainlog.1 and compressed at once: Exim starts a
            // new file.
            0 | 2 => "compress",
            _ => "copytruncate\n  compress\n  delaycompress",
        };
        logrotate(&dir, &mainlog, how);
    });
    let names = file_names(mainlog.parent().unwrap());
    assert!(names.iter().any(|n| n.ends_with(".gz")), "{names:?}");
}

/// Exim's own rotation, `exicyclog` (exim4-base; cron runs it where
/// logrotate is not set up for Exim): `mainlog` renamed to `mainlog.01`,
/// the older ones renumbered and gzipped. Under a running daemon, and
/// while it is down after a SIGKILL: every message stored once.
#[test]
fn real_exicyclog_under_a_running_daemon_loses_and_repeats_nothing() {
    let sink = SmtpSink::start();
    let exim = Exim::start(sink.port, "info@shop.example", "secret");
    let dir = TempDir::new("mta-exicyclog");
    let mainlog = exim.mainlog();
    let logs = mainlog.parent().unwrap().to_path_buf();
    rotated_under_a_daemon(&dir, &mainlog, "exim", exim.port, &sink, |_| {
        let o = std::process::Command::new(testsupport::find_program("exicyclog"))
            .arg("-l")
            .arg(logs.join("%slog"))
            .output()
            .expect("run exicyclog");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    });
    let names = file_names(&logs);
    assert!(names.contains(&"mainlog.01".to_string()), "{names:?}");
    assert!(names.contains(&"mainlog.03.gz".to_string()), "{names:?}");
}

/// Postfix rotating its own log (`postfix logrotate`, Postfix 3.4 and
/// later with `maillog_file`): renamed to `maillog.20261129-101500`,
/// postlogd told to reopen, the old file gzipped at once. Under a running
/// daemon, and while it is down after a SIGKILL: every message stored
/// once.
#[test]
fn real_postfix_logrotate_under_a_running_daemon_loses_and_repeats_nothing() {
    let sink = SmtpSink::start();
    let postfix = Postfix::start(sink.port, "info", "shop.example", "secret");
    let dir = TempDir::new("mta-postfix-logrotate");
    let maillog = postfix.maillog();
    rotated_under_a_daemon(&dir, &maillog, "postfix", postfix.port, &sink, |_| {
        postfix.logrotate();
    });
    let names = file_names(maillog.parent().unwrap());
    let rotated = names
        .iter()
        .filter(|n| n.starts_with("maillog.2") && n.ends_with(".gz"));
    assert_eq!(rotated.count(), 3, "{names:?}");
}

/// The names of the files in `dir`.
fn file_names(dir: &std::path::Path) -> Vec<String> {
    (std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Mail submitted over SMTP AUTH to `port` in six rounds of five while
/// `unlisted serve` (config in `dir`) follows `log`: `rotate(k)` rotates
/// it after rounds 1 and 2 with the daemon running, and (`k` = 2) while
/// it is down, killed by SIGKILL after round 4 and started again after
/// round 5. Every message is stored once.
fn rotated_under_a_daemon(
    dir: &TempDir,
    log: &std::path::Path,
    format: &str,
    port: u16,
    sink: &SmtpSink,
    rotate: impl Fn(usize),
) {
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nformat = \"{format}\"\n\n[ingest]\npoll = \"100ms\"\n",
            log.display()
        ),
    );
    let mut sent = 0;
    let mut send = |n: usize| {
        submit(port, "127.0.120.1", sent, n);
        sent += n;
        // Delivered before the next step.
        assert_eq!(sink.wait_for(sent, Duration::from_secs(30)).len(), sent);
        sent
    };
    let caught_up = |n: usize| wait_stored(dir, n);
    let mut daemon = Kill(crate::spawn(dir.path(), &["serve"]));
    caught_up(send(5));
    rotate(0);
    caught_up(send(5));
    rotate(1);
    caught_up(send(5));
    // Killed as these are written, read or not.
    send(5);
    daemon.0.kill().unwrap(); // SIGKILL: no shutdown, no flush
    daemon.0.wait().unwrap();
    // While it is down: more mail, then the log rotated.
    send(5);
    rotate(2);
    daemon = Kill(crate::spawn(dir.path(), &["serve"]));
    let total = send(5);
    caught_up(total);
    // Stopped, and everything left read to its end once more: nothing
    // was stored twice.
    drop(daemon);
    crate::ingest::once(dir);
    assert_eq!(crate::ingest::stored(dir), total as i64);
}

/// Debian's logrotate renames mail.log, creates a new one, and only then
/// (postrotate) makes rsyslog reopen it: until then rsyslog writes to the
/// renamed file. A running daemon that has started on the new file
/// already still reads what lands in the old one, and so does one killed
/// and started again meanwhile. Real Postfix, rsyslog and logrotate; the
/// postrotate is held back to make the window wide.
#[test]
fn real_rsyslog_writing_to_the_renamed_log_until_it_reopens_loses_nothing() {
    let sink = SmtpSink::start();
    let syslog = Syslog::start();
    let postfix =
        Postfix::start_through_syslog(sink.port, "shop.example", &[("info", "secret")], &syslog);
    let maillog = syslog.maillog();
    let dir = TempDir::new("mta-rsyslog-rotate");
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nformat = \"postfix\"\n\n[ingest]\npoll = \"100ms\"\n",
            maillog.display()
        ),
    );
    let mut sent = 0;
    let mut send = |n: usize| {
        submit(postfix.port, "127.0.130.1", sent, n);
        sent += n;
        // Whichever file rsyslog writes to.
        let removed = || {
            [maillog.clone(), maillog.with_extension("1")]
                .iter()
                .map(|p| std::fs::read_to_string(p).unwrap_or_default())
                .map(|l| l.matches(": removed\n").count())
                .sum::<usize>()
        };
        let done = wait_for(Duration::from_secs(30), || {
            (removed() >= sent).then_some(())
        });
        assert!(done.is_some(), "{} of {sent} removed", removed());
        sent
    };
    // How far the daemon read the file it follows.
    let read_to = || {
        let o = unlisted(dir.path(), &["status", "--json"]);
        let log = json_lines(&o).into_iter().find(|l| l["type"] == "log");
        log.and_then(|l| l["read_to"].as_u64())
    };
    let caught_up = |n: usize| wait_stored(&dir, n);
    let mut daemon = Kill(crate::spawn(dir.path(), &["serve"]));
    caught_up(send(3));
    logrotate(&dir, &maillog, "create");
    // Another program's line in the new file: once the daemon has read it,
    // it follows the new file.
    let marker = "Nov 29 00:00:00 mx cron[1]: (root) CMD (true)\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&maillog)
        .and_then(|mut f| std::io::Write::write_all(&mut f, marker.as_bytes()))
        .expect("append to the new mail log");
    let switched = wait_for(Duration::from_secs(20), || {
        read_to().filter(|r| *r == marker.len() as u64)
    });
    assert!(switched.is_some(), "{:?}", read_to());
    // rsyslog has not reopened: these land in mail.log.1.
    let n = send(3);
    let old = std::fs::read_to_string(maillog.with_extension("1")).unwrap();
    assert_eq!(old.matches(": removed\n").count(), 6, "{old}");
    caught_up(n);
    // Killed and started again while rsyslog still writes there.
    daemon.0.kill().unwrap();
    daemon.0.wait().unwrap();
    let n = send(3);
    daemon = Kill(crate::spawn(dir.path(), &["serve"]));
    caught_up(n);
    syslog.reopen();
    caught_up(send(3));
    drop(daemon);
    crate::ingest::once(&dir);
    assert_eq!(crate::ingest::stored(&dir), 12);
}

/// The pairing most Debian and Ubuntu servers use: Postfix asks Dovecot
/// to check SMTP passwords (`smtpd_sasl_type = dovecot`), both logging to
/// the same mail log. A bot guesses over SMTP, four tries in each of three
/// sessions from three addresses, then logs in: Postfix's warnings name
/// the mailbox (`SASL PLAIN authentication failed: (reason unavailable),
/// sasl_username=…`), each guess counts once (Dovecot's auth process
/// writes no `auth failed` line of its own for them), and the login is
/// named for the twelve.
#[test]
fn real_postfix_with_dovecot_sasl_names_a_login_after_smtp_guesses() {
    let sink = SmtpSink::start();
    let syslog = Syslog::start();
    let dovecot = Dovecot::start_through_syslog(&[("info@shop.example", "secret")], &syslog);
    let postfix = Postfix::start_with_dovecot_sasl(sink.port, &dovecot, &syslog);
    guesses_then_login(110, postfix.port, |ip, guesses| {
        smtp_auth_guesses(postfix.port, ip, "info@shop.example", guesses)
    });
    postfix.wait_removed(1, Duration::from_secs(30));
    let log = syslog.wait_lines("authentication failed", 12, Duration::from_secs(10));
    assert_eq!(log.matches("authentication failed").count(), 12, "{log}");
    let dir = TempDir::new("mta-dovecot-sasl");
    let summary = assert_named_after_guesses(&dir, &[&syslog.maillog()], &log);
    assert_eq!(summary["format"], "postfix");
}

/// cPanel's layout: Exim writes its own main log, Dovecot writes
/// /var/log/maillog through syslog. A bot guesses over IMAP, then logs in
/// to Exim over SMTP; the two logs given together name the login for the
/// guesses.
#[test]
fn real_exim_main_log_and_dovecots_maillog_name_a_login_after_imap_guesses() {
    let sink = SmtpSink::start();
    let syslog = Syslog::start();
    let exim = Exim::start(sink.port, "info@shop.example", "secret");
    let dovecot = Dovecot::start_through_syslog(&[("info@shop.example", "secret")], &syslog);
    guesses_then_login(80, exim.port, |ip, guesses| {
        imap_login_guesses(dovecot.port, ip, "info@shop.example", guesses)
    });
    let log = exim.wait_completed(1, Duration::from_secs(30));
    let maillog = syslog.wait_lines(" dovecot: imap-login: ", 3, Duration::from_secs(10));
    assert!(!maillog.contains(" exim"), "{maillog}");
    let dir = TempDir::new("mta-cpanel");
    let raw = format!("{log}{maillog}");
    let summary = assert_named_after_guesses(&dir, &[&exim.mainlog(), &syslog.maillog()], &raw);
    assert_eq!(summary["format"], "exim");
    assert_eq!(summary["login_logs"][0]["failed_logins"], 12, "{summary:#}");

    assert_daemon_names_login_after_guesses(&dir, &exim.mainlog(), &syslog.maillog(), &raw);
}

/// The daemon following Exim's main log and a login log (the main log
/// named first; the login log told by its lines) stores the verdict
/// change of [`guesses_then_login`]'s login with the guesses as its
/// reason.
fn assert_daemon_names_login_after_guesses(
    dir: &TempDir,
    main: &std::path::Path,
    login_log: &std::path::Path,
    raw: &str,
) {
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nformat = \"exim\"\n\n[[log]]\npath = \"{}\"\n",
            main.display(),
            login_log.display()
        ),
    );
    let check = stdout(&unlisted(dir.path(), &["config", "check"]));
    assert!(
        check.contains("a login log (Dovecot's lines, no MTA's)"),
        "{check}"
    );
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reason = "12 failed logins from 3 addresses";
    crate::ingest::assert_stored_reason(dir, "auth:info@shop.example", reason, raw);
}

/// Dovecot writing its own log (`log_path = /var/log/dovecot.log`, with
/// its default stamp `Nov 29 07:00:00 imap-login: Info: …`) beside Exim's
/// main log. A bot guesses over IMAP, then logs in to Exim over SMTP: the
/// two logs given together name the login for the guesses, and so does
/// the daemon following both.
#[test]
fn real_exim_and_dovecots_own_log_name_a_login_after_imap_guesses() {
    let sink = SmtpSink::start();
    let exim = Exim::start(sink.port, "info@shop.example", "secret");
    let dovecot = Dovecot::start_logging_to_file(&[("info@shop.example", "secret")], None);
    guesses_then_login(90, exim.port, |ip, guesses| {
        imap_login_guesses(dovecot.port, ip, "info@shop.example", guesses)
    });
    let log = exim.wait_completed(1, Duration::from_secs(30));
    let own = dovecot.wait_lines(" imap-login: Info: ", 3, Duration::from_secs(10));
    // The real thing: no host, no `dovecot:` tag, the level after the
    // process.
    assert_eq!(own.matches("(auth failed, 4 attempts").count(), 3, "{own}");
    assert!(!own.contains("dovecot:"), "{own}");
    let dir = TempDir::new("mta-dovecot-own");
    let raw = format!("{log}{own}");
    let summary = assert_named_after_guesses(&dir, &[&exim.mainlog(), &dovecot.log()], &raw);
    assert_eq!(summary["format"], "exim");
    assert_eq!(summary["login_logs"][0]["failed_logins"], 12, "{summary:#}");
    // Its other lines (start-up, shutdown) are Dovecot's, read and passed.
    let lines = own.lines().count() as u64;
    assert_eq!(summary["login_logs"][0]["lines"], lines, "{summary:#}");
    assert_daemon_names_login_after_guesses(&dir, &exim.mainlog(), &dovecot.log(), &raw);
}

/// Dovecot's own log stamped as many set it, `log_timestamp = "%Y-%m-%d
/// %H:%M:%S "`, which is the shape of Exim's stamp: beside Postfix's own
/// log it is still told for Dovecot's, and its guesses name the login.
#[test]
fn real_postfix_and_dovecots_own_log_with_dated_stamps_name_a_login_after_imap_guesses() {
    let sink = SmtpSink::start();
    let postfix = Postfix::start(sink.port, "info", "shop.example", "secret");
    let dovecot = Dovecot::start_logging_to_file(
        &[("info@shop.example", "secret")],
        Some("%Y-%m-%d %H:%M:%S "),
    );
    guesses_then_login(100, postfix.port, |ip, guesses| {
        imap_login_guesses(dovecot.port, ip, "info@shop.example", guesses)
    });
    let log = postfix.wait_removed(1, Duration::from_secs(30));
    let own = dovecot.wait_lines(" imap-login: Info: ", 3, Duration::from_secs(10));
    let dated = own.lines().next().unwrap_or_default();
    assert!(
        dated.as_bytes().get(4) == Some(&b'-') && dated.as_bytes().get(10) == Some(&b' '),
        "{own}"
    );
    let dir = TempDir::new("mta-dovecot-own-dated");
    let raw = format!("{log}{own}");
    let summary = assert_named_after_guesses(&dir, &[&postfix.maillog(), &dovecot.log()], &raw);
    assert_eq!(summary["format"], "postfix");
    assert_eq!(summary["login_logs"][0]["failed_logins"], 12, "{summary:#}");
}

/// The shapes of a shared server through a real Postfix (`extra` lines
/// added to its main.cf when it writes its own log): a stolen mailbox, a
/// relay refused, a PHP mailer to a list with dead addresses and an honest
/// contact form whose mail is forwarded.
fn postfix_shapes(syslog: Option<Syslog>, extra: &str) -> String {
    let sink = SmtpSink::start();
    let postfix = match &syslog {
        None => Postfix::start_with(sink.port, "shop.example", &[("info", "secret")], extra),
        Some(s) => {
            Postfix::start_through_syslog(sink.port, "shop.example", &[("info", "secret")], s)
        }
    };
    let mut removed = stolen_mailbox(postfix.port);
    // Relaying without SASL from another address is refused.
    relay_refused(postfix.port);
    // mail() from a local script (uid 0, see Postfix::sendmail) with PHP's
    // X-PHP-Originating-Script header, which a header_checks WARN rule logs,
    // to a list where two in five addresses are dead.
    for i in 0..30 {
        let to = if i % 5 < 2 {
            format!("nosuchuser-list{i}@dest.example")
        } else {
            format!("list{i}@dest.example")
        };
        postfix.sendmail(
            "wordpress@site.example",
            &format!(
                "X-PHP-Originating-Script: 0:mailer.php\nTo: {to}\nSubject: Newsletter\n\nhello\n"
            ),
        );
        removed += 1;
        if i % 5 < 2 {
            removed += 1;
        }
    }
    // A contact form writing to the owner's address, which forwards it on.
    for _ in 0..3 {
        postfix.sendmail(
            "shop@shop.example",
            "X-PHP-Originating-Script: 0:contact.php\nTo: owner@alias.example\nSubject: Contact form\n\nhello\n",
        );
        removed += 1;
    }
    let log = postfix.wait_removed(removed, Duration::from_secs(30));
    assert_eq!(log.matches(": removed\n").count(), removed, "{log}");
    if syslog.is_some() {
        // `2026-11-29T00:15:44.123456+00:00 host postfix/smtpd[123]: `
        assert!(
            log.lines()
                .all(|l| l.as_bytes()[10] == b'T' && l.contains(" postfix/")),
            "{log}"
        );
    }

    let lines = analyze_real(&postfix.maillog(), "postfix", removed, &log);
    assert_stolen_mailbox(&lines);
    assert_stolen_mailbox_messages(&postfix.maillog(), false);
    let find = |s: &str| sender(&lines, s);
    let php = find("script:mailer.php");
    assert_eq!(php["account"], "0");
    assert_eq!(php["verdict"], "spamming", "{php:#}");
    assert_eq!(php["messages"], 30);
    assert_eq!(php["bounced"], 12);
    assert!(php["reasons"].to_string().contains("bounce_ratio"));
    // Logged `to=<owner@dest.example>, orig_to=<owner@alias.example>` and
    // the same for backup@: one recipient a message, not two.
    assert!(log.contains("orig_to=<owner@alias.example>"), "{log}");
    let form = find("script:contact.php");
    assert_eq!(
        (form["messages"].as_u64(), form["recipients"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(form["verdict"], "ok");
    log
}

#[test]
fn queued_php_spam_is_named_down_to_the_script_from_exims_spool() {
    let sink = SmtpSink::start();
    let exim = Exim::start_with(sink.port, "info@shop.example", "secret", true);
    let mut homes = Homes(Vec::new());
    let uploads = homes.dir("carol", "public_html/wp-content/uploads");
    // What PHP's mail() sends with mail.add_x_header = On.
    for i in 0..25 {
        exim.sendmail(
            &uploads,
            "wordpress@carol.example",
            &format!("X-PHP-Originating-Script: 1001:x7.php\nTo: p{i}@dest.example\nSubject: parcel\n\nclick\n"),
        );
    }
    exim.wait_arrivals(25, Duration::from_secs(15));
    let dir = TempDir::new("mta-spool");
    let mainlog = exim.mainlog();
    let spool = exim.spool();
    let run = |extra: &[&str]| {
        let mut args = vec!["logs", "analyze", "--json", mainlog.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = unlisted(dir.path(), &args);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        json_lines(&o)
    };
    // The log alone names the directory...
    let lines = run(&[]);
    assert_eq!(lines[0]["sender"], format!("script:{}", uploads.display()));
    // ...the queued messages' headers name the script.
    let lines = run(&["--exim-spool", spool.to_str().unwrap()]);
    assert_eq!(
        lines[0]["sender"],
        format!("script:{}/x7.php", uploads.display())
    );
    assert_eq!(lines[0]["verdict"], "spamming");
    assert_eq!(lines[0]["messages"], 25);
    assert_eq!(lines.last().unwrap()["not_understood"], 0);
}

#[test]
fn the_daemon_reads_a_queued_php_mailers_headers_before_the_mail_leaves() {
    let sink = SmtpSink::start();
    let exim = Exim::start_with(sink.port, "info@shop.example", "secret", true);
    let mut homes = Homes(Vec::new());
    let uploads = homes.dir("dave", "public_html/wp-content/uploads");
    let dir = TempDir::new("mta-daemon-spool");
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"{}\"\nformat = \"exim\"\nexim_spool = \"{}\"\n\n[ingest]\npoll = \"100ms\"\n",
            exim.mainlog().display(),
            exim.spool().display()
        ),
    );
    let daemon_log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(["serve", "--db", "d.db", "--listen", ""])
        .current_dir(dir.path())
        .env("RUST_LOG", "debug")
        .stderr(daemon_log)
        .spawn()
        .expect("spawn unlisted");
    for i in 0..25 {
        exim.sendmail(
            &uploads,
            "wordpress@dave.example",
            &format!("X-PHP-Originating-Script: 1001:x7.php\nTo: p{i}@dest.example\nSubject: parcel\n\nclick\n"),
        );
    }
    exim.wait_arrivals(25, Duration::from_secs(15));
    let status = || json_lines(&unlisted(dir.path(), &["status", "--db", "d.db", "--json"]));
    let log_len = std::fs::metadata(exim.mainlog()).unwrap().len();
    // The daemon has read every arrival (and so their spool files)...
    let read = testsupport::wait_for(Duration::from_secs(15), || {
        let lines = status();
        let r = lines.iter().find(|l| l["type"] == "log")?["read_to"].as_u64()?;
        (r >= log_len).then_some(r)
    });
    assert!(read.is_some(), "the daemon did not read the arrivals");
    // ...before the queue runs and the spool files go away.
    exim.run_queue();
    exim.wait_completed(25, Duration::from_secs(30));
    let stored = testsupport::wait_for(Duration::from_secs(15), || {
        let lines = status();
        let l = lines.iter().find(|l| l["type"] == "log")?;
        (l["messages"].as_i64()? >= 25).then_some(lines)
    });
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let _ = daemon.wait();
    let lines = stored.expect("the daemon did not store the 25 messages");
    let php = lines
        .iter()
        .find(|l| l["type"] == "sender")
        .unwrap_or_else(|| panic!("no sender verdict: {lines:#?}"));
    // On failure, say what the daemon stored and what Exim logged: this
    // once failed in CI with the script `suspicious` and did not repeat.
    let explain = || {
        format!(
            "status: {lines:#?}\nexim log:\n{}\ndaemon log:\n{}",
            std::fs::read_to_string(exim.mainlog()).unwrap_or_default(),
            std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default()
        )
    };
    assert_eq!(
        php["sender"],
        format!("script:{}/x7.php", uploads.display()),
        "{}",
        explain()
    );
    assert_eq!(php["verdict"], "spamming", "{}", explain());
}
