//! `unlisted serve` following a mail log: every message stored exactly
//! once across rotation by rename, copytruncate and a `kill -9` mid-file,
//! and one alert when a sender turns spamming.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use testsupport::{TempDir, WebhookReceiver, wait_for};

use crate::logs::{contact_form, exim_id, php_mailer, ts};
use crate::{json_lines, stderr, stdout, unlisted};

fn config(hook: &WebhookReceiver, extra: &str) -> String {
    format!(
        "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[ingest]\n{extra}\n\n[alerts.webhook]\nurl = \"{}\"\n",
        hook.url
    )
}

/// `n` honest messages from one mailbox, ids from `first`, the last one
/// without its `Completed` line when `leave_open`.
pub(crate) fn messages(first: usize, n: usize, leave_open: bool) -> String {
    let mut out = String::new();
    for i in first..first + n {
        let id = exim_id(2000 + i);
        let t = ts(8 * 3600, i as i64 * 60);
        writeln!(out, "{t} {id} <= amy@example.org H=(laptop) [198.51.100.7]:50000 P=esmtpa A=dovecot_login:amy@example.org S=900 T=\"note {i}\" for f{i}@example.net").unwrap();
        writeln!(out, "{t} {id} => f{i}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"").unwrap();
        if !(leave_open && i == first + n - 1) {
            writeln!(out, "{t} {id} Completed").unwrap();
        }
    }
    out
}

fn completed(id_n: usize) -> String {
    format!(
        "{} {} Completed\n",
        ts(8 * 3600, id_n as i64 * 60),
        exim_id(2000 + id_n)
    )
}

fn append(dir: &TempDir, name: &str, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join(name))
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// What logrotate's copytruncate does to mail.log: copy it to mail.log.1,
/// then empty it.
fn copytruncate(dir: &TempDir) {
    let log = dir.path().join("mail.log");
    std::fs::copy(&log, dir.path().join("mail.log.1")).unwrap();
    std::fs::File::create(&log).unwrap();
}

/// Messages stored, of all followed logs.
pub(crate) fn stored(dir: &TempDir) -> i64 {
    let o = unlisted(dir.path(), &["status", "--json"]);
    json_lines(&o)
        .iter()
        .filter(|l| l["type"] == "log")
        .map(|l| l["messages"].as_i64().unwrap())
        .sum()
}

/// What `status` says is wrong with a followed log, if anything.
fn log_problem(dir: &TempDir) -> Option<serde_json::Value> {
    json_lines(&unlisted(dir.path(), &["status", "--json"]))
        .into_iter()
        .find(|l| l["type"] == "log_problem")
}

/// A config following Exim's mail.log and a second log (its `[[log]]`
/// settings), with `extra` in `[ingest]`.
fn exim_and(hook: &WebhookReceiver, second: &str, extra: &str) -> String {
    format!(
        "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[[log]]\n{second}\n\n[ingest]\n{extra}\n\n[alerts.webhook]\nurl = \"{}\"\n",
        hook.url
    )
}

/// A config following the journal entries of `units` in `directory`.
fn journal_config(
    hook: &WebhookReceiver,
    units: &str,
    directory: &str,
    format: &str,
    extra: &str,
) -> String {
    format!(
        "[[log]]\njournal = \"{units}\"\njournal_directory = \"{directory}\"\nformat = \"{format}\"\n\n[ingest]\n{extra}\n\n[alerts.webhook]\nurl = \"{}\"\n",
        hook.url
    )
}

pub(crate) fn once(dir: &TempDir) {
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn rotation_by_rename_and_by_copytruncate_loses_and_repeats_nothing() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-rotate");
    dir.write("unlisted.toml", &config(&hook, "poll = \"1s\""));

    append(&dir, "mail.log", &messages(0, 10, false));
    once(&dir);
    assert_eq!(stored(&dir), 10);

    // Five more, the last still open, then logrotate renames the file and
    // the message completes in the new one (read while unlisted was down).
    append(&dir, "mail.log", &messages(10, 5, true));
    std::fs::rename(dir.path().join("mail.log"), dir.path().join("mail.log.1")).unwrap();
    append(&dir, "mail.log", &(completed(14) + &messages(15, 5, false)));
    once(&dir);
    assert_eq!(stored(&dir), 20);

    // copytruncate: three read, two more written, the file copied and
    // emptied, four written after.
    append(&dir, "mail.log", &messages(20, 3, false));
    once(&dir);
    assert_eq!(stored(&dir), 23);
    append(&dir, "mail.log", &messages(23, 2, false));
    copytruncate(&dir);
    append(&dir, "mail.log", &messages(25, 4, false));
    once(&dir);
    assert_eq!(stored(&dir), 29);
    // Nothing new: nothing changes.
    once(&dir);
    assert_eq!(stored(&dir), 29);

    // copytruncate while stopped, then more written than had been read:
    // the file is as long as before and keeps its inode, but begins with
    // other lines.
    append(&dir, "mail.log", &messages(29, 2, false));
    copytruncate(&dir);
    append(&dir, "mail.log", &messages(31, 12, false));
    once(&dir);
    assert_eq!(stored(&dir), 43);
    let o = unlisted(dir.path(), &["status", "--json"]);
    let log = json_lines(&o)
        .into_iter()
        .find(|l| l["type"] == "log")
        .unwrap();
    assert_eq!(
        log["read_to"],
        std::fs::metadata(dir.path().join("mail.log"))
            .unwrap()
            .len(),
        "{log}"
    );

    // Renamed with dateext and compressed at once while stopped, the last
    // message still open: finished from the gzip file.
    append(&dir, "mail.log", &messages(43, 3, true));
    once(&dir);
    assert_eq!(stored(&dir), 45);
    append(&dir, "mail.log", &completed(45));
    let rotated = dir.path().join("mail.log-20240102");
    std::fs::rename(dir.path().join("mail.log"), &rotated).unwrap();
    let mut z = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join("mail.log-20240102.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    z.write_all(&std::fs::read(&rotated).unwrap()).unwrap();
    z.finish().unwrap();
    std::fs::remove_file(&rotated).unwrap();
    append(&dir, "mail.log", &messages(46, 2, false));
    once(&dir);
    assert_eq!(stored(&dir), 48);
    assert!(
        hook.bodies().is_empty(),
        "an honest mailbox raises no alert"
    );
}

/// What logrotate's `compress` does to a rotated file: `NAME` becomes
/// `NAME.gz`.
fn gzip(dir: &TempDir, name: &str) {
    let plain = dir.path().join(name);
    let mut z = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.path().join(format!("{name}.gz"))).unwrap(),
        flate2::Compression::fast(),
    );
    z.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    z.finish().unwrap();
    std::fs::remove_file(&plain).unwrap();
}

/// Debian's logrotate (`rotate 4`, `compress`, `delaycompress`): the
/// numbered files move up one, the one before last is compressed, and
/// the log becomes `.1`.
fn logrotate(dir: &TempDir) {
    let p = |n: &str| dir.path().join(n);
    for n in (2..4).rev() {
        let from = p(&format!("mail.log.{n}.gz"));
        if from.exists() {
            std::fs::rename(from, p(&format!("mail.log.{}.gz", n + 1))).unwrap();
        }
    }
    if p("mail.log.1").exists() {
        std::fs::rename(p("mail.log.1"), p("mail.log.2")).unwrap();
        gzip(dir, "mail.log.2");
    }
    std::fs::rename(p("mail.log"), p("mail.log.1")).unwrap();
    std::fs::File::create(p("mail.log")).unwrap();
}

/// The daemon stopped over a weekend of daily rotations: the file it was
/// reading is compressed two rotations later, the day between is in
/// `mail.log.2.gz` and `mail.log.1`, and a message open at the stop ends
/// in a later file.
#[test]
fn three_rotations_while_stopped_lose_and_repeat_nothing() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-weekend");
    dir.write("unlisted.toml", &config(&hook, ""));
    append(&dir, "mail.log", &messages(0, 5, false));
    once(&dir);
    assert_eq!(stored(&dir), 5);

    append(&dir, "mail.log", &messages(5, 3, true));
    logrotate(&dir);
    append(&dir, "mail.log", &(completed(7) + &messages(8, 4, false)));
    logrotate(&dir);
    append(&dir, "mail.log", &messages(12, 6, false));
    logrotate(&dir);
    append(&dir, "mail.log", &messages(18, 2, false));
    for f in ["mail.log.2.gz", "mail.log.3.gz", "mail.log.1"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stored(&dir), 20);
    // The operator is told what was read.
    assert!(
        stderr(&o).contains("rotated 2 more times"),
        "{}",
        stderr(&o)
    );
    once(&dir);
    assert_eq!(stored(&dir), 20);
    assert!(
        hook.bodies().is_empty(),
        "an honest mailbox raises no alert"
    );
}

/// `serve --once` from cron: the run that meets a rename reads the old
/// file's lines and names it in the checkpoint; what rsyslog, not yet
/// told to reopen, adds to it is read by the next run; a run that finds
/// it quiet lets it go.
#[test]
fn serve_once_reads_what_lands_in_the_renamed_file_at_the_next_run() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-once-linger");
    dir.write("unlisted.toml", &config(&hook, ""));
    append(&dir, "mail.log", &messages(0, 5, false));
    once(&dir);
    assert_eq!(stored(&dir), 5);
    std::fs::rename(dir.path().join("mail.log"), dir.path().join("mail.log.1")).unwrap();
    append(&dir, "mail.log", &messages(5, 2, false));
    once(&dir);
    assert_eq!(stored(&dir), 7);
    append(&dir, "mail.log.1", &messages(7, 3, false));
    once(&dir);
    assert_eq!(stored(&dir), 10);
    once(&dir);
    append(&dir, "mail.log", &messages(10, 1, false));
    once(&dir);
    assert_eq!(stored(&dir), 11);
}

#[test]
fn kill_9_mid_file_loses_and_repeats_nothing_and_alerts_once() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-kill");
    // Throttled ingestion, so the kill lands in the middle of the file.
    dir.write(
        "unlisted.toml",
        &config(&hook, "poll = \"100ms\"\nmax_lines = 100"),
    );
    let mut log = String::new();
    contact_form(&mut log, 0);
    php_mailer(&mut log, 3600);
    log.push_str(&messages(0, 400, false));
    append(&dir, "mail.log", &log);
    let total = 120 + 80 + 400;

    let mut child = crate::spawn(dir.path(), &["serve"]);
    let mid = wait_for(Duration::from_secs(20), || {
        let n = stored(&dir);
        (n > 0).then_some(n)
    });
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();
    let mid = mid.expect("the daemon stored nothing");
    assert!(
        mid < total as i64,
        "the kill came too late to be mid-file ({mid})"
    );

    once(&dir);
    assert_eq!(stored(&dir), total as i64);
    let o = unlisted(dir.path(), &["status", "--json"]);
    let lines = json_lines(&o);
    let php: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["type"] == "sender"
                && l["sender"] == "script:/home/bob/public_html/wp-content/uploads/2024/04"
        })
        .collect();
    assert_eq!(php.len(), 1);
    assert_eq!(php[0]["verdict"], "spamming");
    assert_eq!(php[0]["messages"], 80);
    // Delivery is at least once: a kill between the POST and recording it
    // sends it again, with the same alert_id. One verdict change, one id.
    let alerts = hook.wait_for(1, Duration::from_secs(5));
    let mut ids: Vec<i64> = alerts
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .filter(|v| v["type"] == "sender")
        .map(|v| {
            assert_eq!(v["reasons"][0]["code"], "script_location");
            v["alert_id"].as_i64().unwrap()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids, [1], "{alerts:?}");
}

const PHP_SENDER: &str = "script:/home/bob/public_html/wp-content/uploads/2024/04";

fn sender_alert(hook: &WebhookReceiver) -> serde_json::Value {
    hook.wait_for(1, Duration::from_secs(5))
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap())
        .find(|v| v["type"] == "sender")
        .expect("no sender alert")
}

#[test]
fn a_burst_gmail_defers_is_judged_while_it_runs() {
    // A stolen mailbox whose mail Gmail defers ("unusual rate of
    // unsolicited mail"): nothing leaves the queue for days, yet the
    // daemon names the mailbox now, from its deferred messages.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-deferred");
    dir.write("unlisted.toml", &config(&hook, ""));
    append(&dir, "mail.log", &deferred_burst());
    once(&dir);
    let alert = sender_alert(&hook);
    assert_eq!(alert["sender"], "auth:info@shop.example", "{alert:#}");
    assert_eq!(alert["event"], "spamming");
    // The messages of the last two minutes of the log wait on.
    let n = stored(&dir);
    assert!((100..120).contains(&n), "{n} stored");
}

/// The burst of [`a_burst_gmail_defers_is_judged_while_it_runs`]: 120
/// messages from a stolen mailbox, each deferred by Gmail, none finished.
fn deferred_burst() -> String {
    let mut log = String::new();
    for i in 0..120usize {
        let (t, id) = (ts(0, i as i64 * 15), exim_id(i));
        writeln!(log, "{t} {id} <= info@shop.example H=(pc{i}) [203.0.{}.9]:5000 P=esmtpsa A=dovecot_plain:info@shop.example S=4200 for t{i}@gmail.com", i % 30).unwrap();
        writeln!(log, "{t} {id} == t{i}@gmail.com R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [198.51.100.26]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail").unwrap();
    }
    log
}

#[test]
fn a_deferred_burst_is_judged_whole_when_the_log_goes_quiet() {
    // Nothing is logged after the burst: the daemon's own clock says the
    // log was quiet long enough, and the last messages are judged too.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-deferred-quiet");
    dir.write(
        "unlisted.toml",
        &config(&hook, "poll = \"200ms\"\nsettle_deferred = \"2s\""),
    );
    let mut child = crate::spawn(dir.path(), &["serve"]);
    append(&dir, "mail.log", &deferred_burst());
    let all = wait_for(Duration::from_secs(20), || {
        (stored(&dir) == 120).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(all.is_some(), "{} of 120 stored", stored(&dir));
    assert_eq!(sender_alert(&hook)["sender"], "auth:info@shop.example");
    // A restart reads nothing again.
    once(&dir);
    assert_eq!(stored(&dir), 120);
}

#[test]
fn a_line_exim_split_for_syslog_is_whole_across_a_restart() {
    // Exim through syslog: a message to 60 recipients comes in two parts,
    // and the daemon stops between them. It starts again at the first
    // part: the message is stored once, with every recipient.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-syslog-parts");
    dir.write("unlisted.toml", &config(&hook, ""));
    let rcpts: Vec<String> = (0..60)
        .map(|k| format!("member{k:02}@list.example"))
        .collect();
    let id = exim_id(4242);
    let arrival = format!(
        "2024-05-01 10:00:00 {id} <= news@shop.example H=(pc) [198.51.100.7]:4000 P=esmtpsa A=dovecot_login:news@shop.example S=9000 for {}",
        rcpts.join(" ")
    );
    let (a, b) = arrival.split_at(870);
    let head = "May  1 10:00:00 web exim[4101]: ";
    append(
        &dir,
        "mail.log",
        &format!("{head}[1/2] {a}\nMay  1 10:00:00 web dovecot[9]: imap-login: Login\n"),
    );
    once(&dir);
    assert_eq!(stored(&dir), 0);
    let mut rest = format!("{head}[2/2] {b}\n");
    for r in &rcpts {
        writeln!(rest, "May  1 10:00:01 web exim[4102]: 2024-05-01 10:00:01 {id} => {r} R=dnslookup T=remote_smtp H=mx.list.example [198.51.100.9] C=\"250 OK\"").unwrap();
    }
    writeln!(
        rest,
        "May  1 10:00:01 web exim[4102]: 2024-05-01 10:00:01 {id} Completed"
    )
    .unwrap();
    append(&dir, "mail.log", &rest);
    once(&dir);
    assert_eq!(stored(&dir), 1);
    let o = unlisted(dir.path(), &["logs", "messages", "--stored", "--json"]);
    let lines = json_lines(&o);
    let news = &lines[0];
    assert_eq!(news["sender"], "auth:news@shop.example", "{}", stdout(&o));
    assert_eq!(news["recipients"].as_array().unwrap().len(), 60, "{news}");
    assert_eq!(news["complete"], true);
}

#[test]
fn retries_of_mail_judged_before_it_left_are_no_new_mail_after_a_restart() {
    // Postfix re-activates a deferred message with a new `qmgr ... from=`
    // line at each retry. The daemon judged these messages before they
    // left; after a restart their retries must not become messages of
    // their own (stored again, under the envelope sender).
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-settled-restart");
    let cfg = config(&hook, "").replace("format = \"exim\"", "format = \"postfix\"");
    dir.write("unlisted.toml", &cfg);
    let (mut first, mut retries) = (String::new(), String::new());
    for i in 0..40usize {
        let q = format!("{:X}", 0xE0000 + i);
        let t = format!("May  1 10:{:02}:{:02}", i / 4, i % 4 * 15);
        writeln!(first, "{t} mx postfix/submission/smtpd[100]: {q}: client=unknown[203.0.113.{i}], sasl_method=PLAIN, sasl_username=info@shop.example").unwrap();
        writeln!(first, "{t} mx postfix/qmgr[102]: {q}: from=<info@shop.example>, size=4000, nrcpt=1 (queue active)").unwrap();
        writeln!(first, "{t} mx postfix/smtp[103]: {q}: to=<t{i}@gmail.com>, relay=gmail-smtp-in.l.google.com[198.51.100.26]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com[198.51.100.26] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail)").unwrap();
        let r = format!("May  1 11:{:02}:{:02}", i / 4, i % 4 * 15);
        writeln!(retries, "{r} mx postfix/qmgr[102]: {q}: from=<info@shop.example>, size=4000, nrcpt=1 (queue active)").unwrap();
        writeln!(retries, "{r} mx postfix/smtp[103]: {q}: to=<t{i}@gmail.com>, relay=gmail-smtp-in.l.google.com[198.51.100.26]:25, delay=3600, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)").unwrap();
        writeln!(retries, "{r} mx postfix/qmgr[102]: {q}: removed").unwrap();
    }
    append(&dir, "mail.log", &first);
    once(&dir);
    let judged = stored(&dir);
    assert!(judged >= 25, "{judged} stored");
    append(&dir, "mail.log", &retries);
    once(&dir);
    // The few still open at the first stop finish now; nothing else.
    assert_eq!(stored(&dir), 40);
    let status = json_lines(&unlisted(dir.path(), &["status", "--json"]));
    let senders: Vec<&str> = (status.iter())
        .filter_map(|l| l["sender"].as_str())
        .collect();
    assert!(
        senders.iter().all(|s| !s.starts_with("from:")),
        "{senders:?}"
    );
}

#[test]
fn a_forward_sending_spam_on_is_alerted_with_advice_and_never_held() {
    // Even in enforce mode: no hold reaches a forward (the MTA takes its
    // mail as the outside senders'); the alert says what to do.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("contain-forward");
    let cfg = config(&hook, "") + "\n[enforce]\nmode = \"enforce\"\n";
    dir.write("unlisted.toml", &cfg);
    let mut log = String::new();
    crate::logs::forwarded_spam(&mut log, 0);
    append(&dir, "mail.log", &log);
    once(&dir);
    let alert = sender_alert(&hook);
    assert_eq!(
        alert["sender"], "forward:info@fishingnet.example",
        "{alert:#}"
    );
    assert!(
        alert["advice"]
            .as_str()
            .unwrap()
            .contains("remove the forward")
    );
    assert_eq!(alert["proposed_hold"], serde_json::Value::Null);
    assert!(json_lines(&unlisted(dir.path(), &["hold", "list", "--json"])).is_empty());
    assert!(json_lines(&unlisted(dir.path(), &["hold", "log", "--json"])).is_empty());
}

#[test]
fn a_spamming_sender_gets_a_proposed_hold_by_default_and_a_hold_in_enforce_mode() {
    // Default mode "alert": nothing held, the alert and the audit show the
    // hold that would have been placed.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("contain-alert");
    dir.write("unlisted.toml", &config(&hook, ""));
    let mut log = String::new();
    php_mailer(&mut log, 0);
    append(&dir, "mail.log", &log);
    once(&dir);
    let alert = sender_alert(&hook);
    assert_eq!(alert["sender"], PHP_SENDER);
    assert_eq!(alert["proposed_hold"]["action"], "hold");
    assert!(
        alert["proposed_hold"]["command"]
            .as_str()
            .unwrap()
            .starts_with(&format!("unlisted hold add {PHP_SENDER} --action hold"))
    );
    assert!(json_lines(&unlisted(dir.path(), &["hold", "list", "--json"])).is_empty());
    let audit = json_lines(&unlisted(dir.path(), &["hold", "log", "--json"]));
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0]["change"], "proposed");
    assert_eq!(audit[0]["actor"], "unlisted:detect");

    // Mode "enforce": held at once, by the daemon, with the reasons.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("contain-enforce");
    let cfg = config(&hook, "")
        + "\n[enforce]\nmode = \"enforce\"\nauto_action = \"reject\"\nauto_for = \"1d\"\n";
    dir.write("unlisted.toml", &cfg);
    append(&dir, "mail.log", &log);
    once(&dir);
    let holds = json_lines(&unlisted(dir.path(), &["hold", "list", "--json"]));
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert_eq!(holds[0]["subject"], PHP_SENDER);
    assert_eq!(holds[0]["action"], "reject");
    assert_eq!(holds[0]["automatic"], true);
    assert_eq!(holds[0]["actor"], "unlisted:detect");
    assert!(
        holds[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("detected spamming: ")
    );
    let span = holds[0]["until"].as_i64().unwrap() - holds[0]["created"].as_i64().unwrap();
    assert_eq!(span, 86_400);
    let alert = sender_alert(&hook);
    assert_eq!(alert["hold"]["action"], "reject");
    assert_eq!(alert["hold"]["automatic"], true);
    // Reading the same log again (a restart) holds nothing twice.
    once(&dir);
    let audit = json_lines(&unlisted(dir.path(), &["hold", "log", "--json"]));
    assert_eq!(audit.len(), 1, "{audit:?}");

    // The allow-list wins over enforce mode.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("contain-allow");
    let cfg = config(&hook, "") + "\n[enforce]\nmode = \"enforce\"\nallow = [\"account:bob\"]\n";
    dir.write("unlisted.toml", &cfg);
    append(&dir, "mail.log", &log);
    once(&dir);
    assert!(json_lines(&unlisted(dir.path(), &["hold", "list", "--json"])).is_empty());
    let audit = json_lines(&unlisted(dir.path(), &["hold", "log", "--json"]));
    assert_eq!(audit[0]["change"], "allowed");
}

/// A stop between storing a sender's turn to spamming and holding it (a
/// `kill -9` at that instant, or the store failing in between) leaves the
/// turn stored and no hold: the next run places the hold, once.
#[test]
fn a_turn_to_spamming_stored_but_not_acted_on_is_held_at_the_next_run() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("contain-later");
    let cfg = config(&hook, "") + "\n[enforce]\nmode = \"enforce\"\nauto_action = \"reject\"\n";
    dir.write("unlisted.toml", &cfg);
    let mut log = String::new();
    php_mailer(&mut log, 0);
    append(&dir, "mail.log", &log);
    once(&dir);
    assert_eq!(
        json_lines(&unlisted(dir.path(), &["hold", "list", "--json"])).len(),
        1
    );
    // The store as such a stop leaves it. Edited here: no kill from
    // outside lands at that instant every time.
    let db = rusqlite::Connection::open(dir.path().join("unlisted.db")).unwrap();
    db.execute_batch(
        "DELETE FROM holds; DELETE FROM hold_audit;
         UPDATE sender_verdicts SET contained = NULL WHERE to_verdict = 'spamming';",
    )
    .unwrap();
    drop(db);
    assert!(json_lines(&unlisted(dir.path(), &["hold", "list", "--json"])).is_empty());

    once(&dir);
    let holds = json_lines(&unlisted(dir.path(), &["hold", "list", "--json"]));
    assert_eq!(holds.len(), 1, "{holds:?}");
    assert_eq!(holds[0]["subject"], PHP_SENDER);
    assert_eq!(holds[0]["action"], "reject");
    // The reasons come back from the stored turn.
    let reason = holds[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("detected spamming: "), "{reason}");
    assert!(reason.contains("in an uploads directory"), "{reason}");
    once(&dir);
    let audit = json_lines(&unlisted(dir.path(), &["hold", "log", "--json"]));
    assert_eq!(audit.len(), 1, "{audit:?}");
}

#[test]
fn the_daemon_stores_a_content_filters_copy_as_its_senders_mail() {
    // Postfix with amavis: the stolen mailbox's mail comes back from the
    // filter as unauthenticated loopback mail carrying the bounces. The
    // daemon stores each message once, as the copy, under the mailbox.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-amavis");
    let cfg = config(&hook, "").replace("format = \"exim\"", "format = \"postfix\"");
    dir.write("unlisted.toml", &cfg);
    append(&dir, "mail.log", &crate::logs::through_amavis());
    once(&dir);
    assert_eq!(stored(&dir), 90);
    let alert = sender_alert(&hook);
    assert_eq!(alert["sender"], "auth:info@shop.example", "{alert:#}");
}

#[test]
fn logs_messages_reads_what_the_daemon_stored_after_the_log_is_gone() {
    // Weeks later the log has rotated away; the store still holds what
    // the stolen mailbox sent (the copies amavis re-queued, under it).
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-stored-messages");
    let cfg = config(&hook, "").replace("format = \"exim\"", "format = \"postfix\"");
    dir.write("unlisted.toml", &cfg);
    append(&dir, "mail.log", &crate::logs::through_amavis());
    once(&dir);
    std::fs::remove_file(dir.path().join("mail.log")).unwrap();
    let run = |args: &[&str]| {
        let mut all = vec!["logs", "messages", "--stored", "--json"];
        all.extend_from_slice(args);
        let o = unlisted(dir.path(), &all);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut lines = json_lines(&o);
        let summary = lines.pop().unwrap();
        (lines, summary)
    };
    let (msgs, sum) = run(&["--sender", "auth:info@shop.example"]);
    assert_eq!(
        (msgs.len(), sum["matched"].as_u64()),
        (90, Some(90)),
        "{sum}"
    );
    assert_eq!(sum["read_order"], serde_json::json!(["store:unlisted.db"]));
    let bounced = msgs
        .iter()
        .filter(|m| m["recipients"][0]["outcome"] == "bounced")
        .count();
    assert_eq!(bounced, 30);
    // Syslog dates take the year of the log's change: this year.
    let first = msgs[0]["received"].as_str().unwrap();
    assert!(first.ends_with("-05-01T12:00:00"), "{first}");
    let year = &first[..4];
    // The window is read on the store's UTC times.
    let (since, until) = (
        format!("{year}-05-01 12:10"),
        format!("{year}-05-01T12:20:00Z"),
    );
    let (msgs, _) = run(&["--since", &since, "--until", &until]);
    assert_eq!(msgs.len(), 30);
    // A record spoilt on disk is counted and named, and the rest shown.
    let db = rusqlite::Connection::open(dir.path().join("unlisted.db")).unwrap();
    db.execute(
        "UPDATE messages SET record = '{not json' WHERE id = (SELECT min(id) FROM messages)",
        [],
    )
    .unwrap();
    let (msgs, sum) = run(&["--sender", "auth:info@shop.example"]);
    assert_eq!(msgs.len(), 89);
    assert_eq!(sum["not_understood"], 1, "{sum}");
    assert!(
        sum["not_understood_samples"][0]["where"]
            .as_str()
            .unwrap()
            .starts_with("store:unlisted.db record 1"),
        "{sum}"
    );
    // Logs and the store at once are refused; so is neither.
    let o = unlisted(dir.path(), &["logs", "messages", "--stored", "mail.log"]);
    assert_eq!(o.status.code(), Some(2));
    let o = unlisted(dir.path(), &["logs", "messages"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("give the log files to read"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_restart_between_a_filtered_message_and_its_copy_keeps_the_copy_its_senders() {
    // The daemon stops three times just after amavis took a message and
    // before its copy came back: the copy is still the mailbox's.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-amavis-restart");
    let cfg = config(&hook, "").replace("format = \"exim\"", "format = \"postfix\"");
    // The mailbox's account from the domain owners (cPanel's form).
    dir.write("owners", "shop.example: carol\n");
    dir.write(
        "unlisted.toml",
        &format!("{cfg}\n[enforce]\nuserdomains = \"owners\"\n"),
    );
    let log = crate::logs::through_amavis();
    let lines: Vec<&str> = log.lines().collect();
    // Eight lines a message; the sixth is the original's `removed`.
    assert_eq!(lines.len(), 90 * 8);
    let mut from = 0;
    for k in [10, 40, 70] {
        let cut = 8 * k + 6;
        assert!(lines[cut - 1].ends_with(": removed") && lines[cut].contains("to=<"));
        append(&dir, "mail.log", &(lines[from..cut].join("\n") + "\n"));
        once(&dir);
        from = cut;
    }
    append(&dir, "mail.log", &(lines[from..].join("\n") + "\n"));
    once(&dir);
    assert_eq!(stored(&dir), 90);
    let o = unlisted(dir.path(), &["status", "--json"]);
    let senders: Vec<_> = json_lines(&o)
        .into_iter()
        .filter(|l| l["type"] == "sender")
        .collect();
    assert_eq!(senders.len(), 1, "{senders:#?}");
    assert_eq!(senders[0]["sender"], "auth:info@shop.example");
    assert_eq!(senders[0]["messages"], 90, "{senders:#?}");
    assert_eq!(senders[0]["account"], "carol");
}

/// Exim lines of one delivered SMTP AUTH message from `user`, `secs`
/// after 2024-05-01 00:00:00 (any number of days on).
fn auth_message(out: &mut String, n: usize, user: &str, secs: i64) {
    let t = format!(
        "2024-05-{:02} {:02}:{:02}:{:02}",
        1 + secs / 86_400,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    );
    let id = exim_id(5000 + n);
    writeln!(out, "{t} {id} <= {user} H=(pc) [198.51.100.7]:50000 P=esmtpa A=dovecot_login:{user} S=900 for r{n}@example.net").unwrap();
    writeln!(out, "{t} {id} => r{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"").unwrap();
    writeln!(out, "{t} {id} Completed").unwrap();
}

/// cPanel's layout: Exim writes exim_mainlog, Dovecot /var/log/maillog.
/// The daemon follows both (the main log named first) and tells a login
/// in the main log of the IMAP guesses in the other, read in the same run
/// or the run before, and counts each guess once, in the log it is in.
#[test]
fn the_daemon_names_a_login_after_imap_guesses_in_dovecots_own_log() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-login-log");
    dir.write("unlisted.toml", &exim_and(&hook, "path = \"maillog\"", ""));
    let check = || stdout(&unlisted(dir.path(), &["config", "check"]));
    assert!(!check().contains("a login log"), "{}", check());
    // Ten addresses guess three passwords each over IMAP, then the
    // mailbox logs in to send. Debian 12's rsyslog stamps carry the year.
    let guesses = |first: i64, n: i64| {
        let mut out = String::new();
        for i in first..first + n {
            writeln!(out, "2024-05-01T00:{:02}:{:02}.000000+00:00 web dovecot: imap-login: Disconnected (auth failed, 3 attempts in 9 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.{}, lip=192.0.2.1", (10 + i * 20) / 60, (10 + i * 20) % 60, i % 10).unwrap();
        }
        out
    };
    append(
        &dir,
        "maillog",
        "2024-05-01T00:00:01.000000+00:00 web dovecot: master: Dovecot v2.3.19 starting up\n",
    );
    append(&dir, "maillog", &guesses(0, 10));
    assert!(
        check().contains("log[1] maillog: a login log (Dovecot's lines, no MTA's)"),
        "{}",
        check()
    );
    let mut logins = String::new();
    auth_message(&mut logins, 0, "info@shop.example", 900);
    append(&dir, "mail.log", &logins);
    once(&dir);
    assert_eq!(stored(&dir), 1);
    let failed = |n: usize| -> serde_json::Value {
        let db = rusqlite::Connection::open(dir.path().join("unlisted.db")).unwrap();
        let record: String = db
            .query_row(
                "SELECT record FROM messages WHERE msg_id = ?1",
                [exim_id(5000 + n)],
                |r| r.get(0),
            )
            .unwrap();
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        record["failed_logins"].clone()
    };
    assert_eq!(failed(0)["count"], 30, "{:#}", failed(0));
    assert_eq!(failed(0)["ips"], 10);
    let store = store::Store::open(&dir.path().join("unlisted.db")).unwrap();
    let history = store.sender_history("auth:info@shop.example").unwrap();
    let last = history.first().expect("a verdict change for the mailbox");
    assert_eq!(last.2, "suspicious", "{history:?}");
    assert!(
        last.3.contains("30 failed logins from 10 addresses"),
        "{history:?}"
    );
    drop(store);
    // Each log counts its own, and the Dovecot one is the login log.
    let o = unlisted(dir.path(), &["status", "--json"]);
    let logs: Vec<(String, i64, bool)> = json_lines(&o)
        .into_iter()
        .filter(|l| l["type"] == "log")
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_string(),
                l["failed_logins"].as_i64().unwrap(),
                l["login_log"] == true,
            )
        })
        .collect();
    let counted: Vec<(String, i64)> = logs.iter().map(|(p, n, _)| (p.clone(), *n)).collect();
    assert!(counted.contains(&("maillog".into(), 30)), "{counted:?}");
    assert!(counted.contains(&("mail.log".into(), 0)), "{counted:?}");
    let said = stdout(&unlisted(dir.path(), &["status"]));
    assert!(
        said.contains("log maillog: 30 failed logins since"),
        "{said}"
    );
    assert!(said.contains(", 1 message stored\n"), "{said}");
    let maillog_len = std::fs::metadata(dir.path().join("maillog")).unwrap().len();
    assert!(
        said.contains(&format!(
            "log maillog: read to byte {maillog_len}, a login log: its failed logins go to the server's other logs\n"
        )),
        "{said}"
    );
    let login_log: Vec<(String, bool)> = logs.iter().map(|(p, _, l)| (p.clone(), *l)).collect();
    assert!(
        login_log.contains(&("maillog".into(), true)),
        "{login_log:?}"
    );
    assert!(
        login_log.contains(&("mail.log".into(), false)),
        "{login_log:?}"
    );

    // The next run (a restart): three more guesses, then another login.
    // It is told of the 33, not of the first 30 twice.
    append(&dir, "maillog", &guesses(10, 1));
    let mut more = String::new();
    auth_message(&mut more, 1, "info@shop.example", 960);
    append(&dir, "mail.log", &more);
    once(&dir);
    assert_eq!(stored(&dir), 2);
    assert_eq!(failed(1)["count"], 33, "{:#}", failed(1));
    assert_eq!(failed(1)["ips"], 10);
    assert!(
        failed(1)["line"]
            .as_str()
            .unwrap()
            .contains("rip=198.51.100.0,"),
        "{:#}",
        failed(1)
    );
}

/// The daemon started before Dovecot wrote its log (or right after it
/// was rotated): the file tells what it is once it has lines, and from
/// then on its guesses go to the logins in the main log.
#[test]
fn a_login_log_that_was_empty_at_start_is_known_once_it_has_lines() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-login-log-later");
    let cfg = exim_and(&hook, "path = \"maillog\"", "poll = \"1s\"");
    dir.write("unlisted.toml", &cfg);
    let start = "2024-05-01 00:00:00 Start queue run: pid=100\n";
    append(&dir, "mail.log", start);
    append(&dir, "maillog", "");
    let mut child = crate::spawn(dir.path(), &["serve"]);
    let read_to = |name: &str| {
        let o = unlisted(dir.path(), &["status", "--json"]);
        json_lines(&o)
            .into_iter()
            .find(|l| l["type"] == "log" && l["path"] == name)
            .and_then(|l| l["read_to"].as_u64())
    };
    // Both logs are open (and maillog was found empty) once the main
    // log's first line is read.
    let started = wait_for(Duration::from_secs(20), || {
        (read_to("mail.log") == Some(start.len() as u64)).then_some(())
    });
    let mut guesses = String::new();
    for i in 0..10 {
        writeln!(guesses, "2024-05-01T00:{:02}:{:02}.000000+00:00 web dovecot: imap-login: Disconnected (auth failed, 3 attempts in 9 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.{i}, lip=192.0.2.1", (10 + i * 20) / 60, (10 + i * 20) % 60).unwrap();
    }
    append(&dir, "maillog", &guesses);
    // Read (its checkpoint is stored with what it read) before the login.
    let read = wait_for(Duration::from_secs(20), || {
        (read_to("maillog") == Some(guesses.len() as u64)).then_some(())
    });
    let mut login = String::new();
    auth_message(&mut login, 0, "info@shop.example", 900);
    append(&dir, "mail.log", &login);
    let stored_one = wait_for(Duration::from_secs(20), || {
        (stored(&dir) == 1).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(started.is_some(), "the daemon did not start reading");
    assert!(read.is_some(), "the daemon did not read maillog");
    assert!(stored_one.is_some(), "the daemon did not store the login");
    assert_mailbox_named_after_30_guesses(&dir);
}

const NEWS: &str = "news@shop.example";

/// Eight messages of [`NEWS`] in an hour, and nine days on one of someone
/// else (the clock moves past the mailbox's memory); then 110 of `NEWS`
/// in an hour.
fn quiet_then_burst() -> (String, String) {
    let mut before = String::new();
    for i in 0..8 {
        auth_message(&mut before, i, NEWS, 8 * 3600 + i as i64 * 300);
    }
    auth_message(
        &mut before,
        100,
        "clock@shop.example",
        9 * 86_400 + 6 * 3600,
    );
    let mut burst = String::new();
    for i in 0..110 {
        auth_message(
            &mut burst,
            200 + i,
            NEWS,
            9 * 86_400 + 7 * 3600 + i as i64 * 30,
        );
    }
    (before, burst)
}

#[test]
fn a_restart_keeps_each_senders_history() {
    // A mailbox that sent eight messages in an hour nine days ago sends 110
    // in an hour now: ten times its busiest hour before is a warning sign.
    // The daemon stops in between (its memory of the mailbox was nine days
    // old, past every window, so it had also forgotten it): only the
    // sender states it saved can tell the jump.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-history");
    dir.write("unlisted.toml", &config(&hook, "poll = \"1s\""));
    let (before, burst) = quiet_then_burst();
    append(&dir, "mail.log", &before);
    once(&dir);
    assert_eq!(stored(&dir), 9);
    append(&dir, "mail.log", &burst);
    once(&dir);
    assert_eq!(stored(&dir), 119);

    let store = store::Store::open(&dir.path().join("unlisted.db")).unwrap();
    let history = store.sender_history(&format!("auth:{NEWS}")).unwrap();
    let last = history.first().expect("a verdict change for the mailbox");
    assert_eq!(last.2, "suspicious", "{history:?}");
    assert!(last.3.contains("\"history_jump\""), "{history:?}");
    assert!(last.3.contains("its busiest before was 8"), "{history:?}");
    // The same as one run over the whole log.
    std::fs::write(dir.path().join("whole.log"), before + &burst).unwrap();
    let o = unlisted(dir.path(), &["logs", "analyze", "--json", "whole.log"]);
    let whole = json_lines(&o);
    let r = whole
        .iter()
        .find(|l| l["sender"] == format!("auth:{NEWS}"))
        .unwrap();
    assert_eq!(r["verdict"], "suspicious");
    assert_eq!(r["reasons"][0]["code"], "history_jump");
}

#[test]
fn a_kill_9_between_saves_replays_the_rest_once() {
    // As above, with the daemon killed in the middle of the burst, long
    // after its last save: what it had judged since is replayed from the
    // stored messages, once, so the jump is seen at the same message as
    // in one pass over the whole log.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-history-kill");
    dir.write(
        "unlisted.toml",
        &config(
            &hook,
            "poll = \"100ms\"\nmax_lines = 30\nsave_senders = \"1h\"",
        ),
    );
    let (before, burst) = quiet_then_burst();
    append(&dir, "mail.log", &before);
    let db = dir.path().join("unlisted.db");
    let saved = || {
        store::Store::open(&db)
            .ok()?
            .saved_detector()
            .ok()
            .flatten()
            .map(|s| s.messages)
    };
    let mut child = crate::spawn(dir.path(), &["serve"]);
    // Its first save (at once, then not for an hour) covers the nine.
    let first = wait_for(Duration::from_secs(20), || saved().filter(|&n| n == 9));
    assert!(first.is_some(), "the daemon did not save its senders");
    append(&dir, "mail.log", &burst);
    let mid = wait_for(Duration::from_secs(20), || {
        let n = stored(&dir);
        (n > 20).then_some(n)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let mid = mid.expect("the daemon stored nothing of the burst");
    assert!(mid < 100, "the kill came too late ({mid})");
    assert_eq!(saved(), Some(9), "saved again before the kill");

    let mut child = crate::spawn(dir.path(), &["serve"]);
    let done = wait_for(Duration::from_secs(20), || {
        (stored(&dir) == 119).then_some(())
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(done.is_some(), "the daemon did not finish the log");
    let store = store::Store::open(&db).unwrap();
    let history = store.sender_history(&format!("auth:{NEWS}")).unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    let (at, _, to, reasons) = &history[0];
    assert_eq!(to, "suspicious", "{reasons}");
    // One pass: the jump at the hundredth message of the hour.
    std::fs::write(dir.path().join("whole.log"), before + &burst).unwrap();
    let o = unlisted(dir.path(), &["logs", "analyze", "--json", "whole.log"]);
    let whole = json_lines(&o);
    let r = whole
        .iter()
        .find(|l| l["sender"] == format!("auth:{NEWS}"))
        .unwrap();
    let stamp = maillog::Stamp {
        secs: *at,
        millis: 0,
    };
    assert_eq!(r["verdict_at"], stamp.iso(), "{reasons}");
}

#[test]
fn messages_older_than_keep_messages_are_deleted_and_the_sender_kept() {
    // One message a day for 25 days, kept 8 days (by the log's clock): the
    // last nine stay; the sender's saved state does not go with them.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-prune");
    dir.write("unlisted.toml", &config(&hook, "keep_messages = \"8d\""));
    let mut log = String::new();
    for day in 0..25 {
        auth_message(&mut log, day, NEWS, day as i64 * 86_400 + 9 * 3600);
    }
    append(&dir, "mail.log", &log);
    once(&dir);
    assert_eq!(stored(&dir), 9);
    let store = store::Store::open(&dir.path().join("unlisted.db")).unwrap();
    let state = store.sender_state(&format!("auth:{NEWS}")).unwrap();
    assert!(state.is_some(), "the sender's state was not saved");
    // Read again, nothing changes.
    once(&dir);
    assert_eq!(stored(&dir), 9);
}

#[test]
fn a_filtered_message_whose_copy_never_comes_holds_the_checkpoint_an_hour() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-amavis-lost");
    let cfg = config(&hook, "").replace("format = \"exim\"", "format = \"postfix\"");
    dir.write("unlisted.toml", &cfg);
    // The original's four lines: the filter answered `queued as`, but the
    // copy is logged elsewhere (another instance's log) or not at all.
    let log = crate::logs::through_amavis();
    let first: Vec<&str> = log.lines().take(6).collect();
    let original = [first[0], first[1], first[4], first[5]];
    assert!(original[2].contains("queued as") && original[3].ends_with(": removed"));
    append(&dir, "mail.log", &(original.join("\n") + "\n"));
    let checkpoint = || {
        let o = unlisted(dir.path(), &["status", "--json"]);
        let log = json_lines(&o)
            .into_iter()
            .find(|l| l["type"] == "log")
            .unwrap();
        (
            log["resume_at"].as_u64().unwrap(),
            log["read_to"].as_u64().unwrap(),
        )
    };
    once(&dir);
    // Held before the original, in case a restart must read it again...
    assert_eq!(checkpoint().0, 0);
    // ... until an hour of log time has passed without the copy.
    let later = "May  1 13:30:00 mx postfix/pickup[9]: AAA111: uid=1000 from=<bob>\n\
                 May  1 13:30:00 mx postfix/qmgr[102]: AAA111: from=<bob@shop.example>, size=300, nrcpt=1 (queue active)\n\
                 May  1 13:30:00 mx postfix/local[5]: AAA111: to=<bob@shop.example>, relay=local, delay=0, delays=0/0/0/0, dsn=2.0.0, status=sent (delivered to mailbox)\n\
                 May  1 13:30:00 mx postfix/qmgr[102]: AAA111: removed\n";
    append(&dir, "mail.log", later);
    once(&dir);
    let (resume_at, read_to) = checkpoint();
    assert_eq!(resume_at, read_to);
}

#[test]
fn the_daemon_keeps_a_local_time_log_in_utc() {
    // The same PHP mailer on a server whose Exim writes Chicago's wall
    // clock (00:00-00:26 on 1 May, summer time: 05:00-05:26 UTC) and on
    // one in UTC: alerts and status speak UTC, like listings.
    for (zone, hour) in [("timezone = \"America/Chicago\"", "05"), ("", "00")] {
        let hook = WebhookReceiver::start();
        let dir = TempDir::new("zone-daemon");
        dir.write("unlisted.toml", &config(&hook, zone));
        let mut log = String::new();
        php_mailer(&mut log, 0);
        append(&dir, "mail.log", &log);
        once(&dir);
        let alert = sender_alert(&hook);
        let prefix = format!("2024-05-01T{hour}:");
        assert!(
            alert["at"].as_str().unwrap().starts_with(&prefix),
            "{zone}: {alert}"
        );
        let status = json_lines(&unlisted(dir.path(), &["status", "--json"]));
        let s = status.iter().find(|l| l["sender"] == PHP_SENDER).unwrap();
        assert!(s["since"].as_str().unwrap().starts_with(&prefix), "{s}");
    }
}

#[test]
fn a_log_that_is_not_there_is_reported_until_it_is() {
    // A wrong path (/var/log/maillog for /var/log/mail.log) used to be
    // followed silently forever. Now `config check` warns, `status` says
    // so while it lasts, and the log is read once it appears.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("missing-log");
    dir.write("unlisted.toml", &config(&hook, ""));
    let o = unlisted(dir.path(), &["config", "check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("log[0] mail.log: No such file or directory"),
        "{}",
        stderr(&o)
    );
    once(&dir);
    let p = log_problem(&dir).expect("no log problem in status");
    assert_eq!(p["path"], "mail.log");
    assert_eq!(p["problem"], "mail.log does not exist");
    let o = unlisted(dir.path(), &["status"]);
    assert!(
        stderr(&o).contains("mail.log does not exist (since "),
        "{}",
        stderr(&o)
    );
    append(&dir, "mail.log", &messages(0, 3, false));
    once(&dir);
    assert_eq!(stored(&dir), 3);
    assert!(log_problem(&dir).is_none());
    // Rotated away (by rename, Exim writes the new file with its next
    // line): waiting for it is no problem.
    std::fs::rename(dir.path().join("mail.log"), dir.path().join("mail.log.1")).unwrap();
    once(&dir);
    assert!(log_problem(&dir).is_none());
}

#[test]
fn a_new_time_zone_stores_nothing_twice() {
    // The daemon stops while a message is open (its first line before
    // three that completed); the admin then sets the server's zone. Read
    // again from the open message in the new zone, the three would be
    // stored a second time under other times.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("zone-change");
    dir.write("unlisted.toml", &config(&hook, ""));
    let open = exim_id(1999);
    let t = ts(8 * 3600, -30);
    let mut log = format!(
        "{t} {open} <= amy@example.org H=(laptop) [198.51.100.7]:50000 P=esmtpa A=dovecot_login:amy@example.org S=900 for late@example.net\n"
    );
    log += &messages(0, 3, false);
    append(&dir, "mail.log", &log);
    once(&dir);
    assert_eq!(stored(&dir), 3);
    dir.write(
        "unlisted.toml",
        &config(&hook, "timezone = \"America/Chicago\""),
    );
    append(
        &dir,
        "mail.log",
        &format!("{} {open} Completed\n", ts(8 * 3600, 600)),
    );
    let o = unlisted(dir.path(), &["serve", "--once", "--listen", ""]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("time zone changed from UTC to America/Chicago"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stored(&dir), 3);
    // From then on the new zone holds: a restart re-reads as before.
    append(&dir, "mail.log", &messages(3, 2, false));
    once(&dir);
    assert_eq!(stored(&dir), 5);
}

/// Appends `entries` (UTC seconds, program, pid, message) to the journal
/// file `journal/mail.journal` of `dir` as journald stores them:
/// systemd-journal-remote writes journal files from the export format (no
/// journald runs here).
pub(crate) fn journal_append(dir: &TempDir, entries: &[(i64, &str, u32, String)]) {
    journal_append_unit(dir, "postfix@-.service", entries)
}

/// [`journal_append`] for the entries of `unit`.
pub(crate) fn journal_append_unit(dir: &TempDir, unit: &str, entries: &[(i64, &str, u32, String)]) {
    journal_write(dir, &unit_export(unit, entries));
}

/// `entries` of `unit` in journald's export format.
pub(crate) fn unit_export(unit: &str, entries: &[(i64, &str, u32, String)]) -> String {
    let mut export = String::new();
    for (secs, program, pid, message) in entries {
        export.push_str(&export_entry(
            *secs,
            &format!(
                "SYSLOG_IDENTIFIER={program}\n_PID={pid}\n_SYSTEMD_UNIT={unit}\nMESSAGE={message}\n"
            ),
        ));
    }
    export
}

/// One entry of the export format at `secs`: the fields every entry has,
/// then `fields` (`FIELD=value` lines).
pub(crate) fn export_entry(secs: i64, fields: &str) -> String {
    let us = secs * 1_000_000;
    format!(
        "__REALTIME_TIMESTAMP={us}\n__MONOTONIC_TIMESTAMP={us}\n_BOOT_ID=6b1d0c3e5f7a49d2a1b2c3d4e5f60718\n_HOSTNAME=mx\nPRIORITY=6\n{fields}\n"
    )
}

/// journald's entry saying it dropped `n` lines of `unit` (its rate
/// limit), as it writes it: its own unit, the dropping one as the object.
pub(crate) fn journald_dropped(n: u32, unit: &str) -> String {
    format!(
        "SYSLOG_IDENTIFIER=systemd-journald\n_PID=310\n_UID=0\n_SYSTEMD_UNIT=systemd-journald.service\nOBJECT_PID=2001\nOBJECT_SYSTEMD_UNIT={unit}\nMESSAGE_ID=a596d6fe7bfa4994828e72309e95d61e\nN_DROPPED={n}\nMESSAGE=Suppressed {n} messages from {unit}\n"
    )
}

/// Writes journal entries in journald's export format (`FIELD=value`
/// lines, an empty line after each) into `journal/` with the real
/// systemd-journal-remote.
pub(crate) fn journal_write(dir: &TempDir, export: &str) {
    dir.write("entries.export", export);
    std::fs::create_dir_all(dir.path().join("journal")).unwrap();
    let o = std::process::Command::new("/lib/systemd/systemd-journal-remote")
        .arg(format!(
            "--output={}",
            dir.path().join("journal/mail.journal").display()
        ))
        .arg(dir.path().join("entries.export"))
        .output()
        .expect("run systemd-journal-remote (package systemd-journal-remote)");
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A Postfix submission by `user` to `to`, as journal entries: `done`
/// adds the delivery (bounced when `bounce`) and the queue removal.
pub(crate) fn postfix_entries(
    at: i64,
    queue_id: &str,
    user: &str,
    to: &str,
    bounce: bool,
    done: bool,
) -> Vec<(i64, &'static str, u32, String)> {
    let mut e = vec![
        (
            at,
            "postfix/submission/smtpd",
            2001,
            format!(
                "{queue_id}: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username={user}"
            ),
        ),
        (
            at,
            "postfix/cleanup",
            2002,
            format!("{queue_id}: message-id=<{queue_id}@shop.example>"),
        ),
        (
            at,
            "postfix/qmgr",
            999,
            format!("{queue_id}: from=<{user}>, size=900, nrcpt=1 (queue active)"),
        ),
    ];
    if done {
        e.extend(delivery_entries(at + 1, queue_id, to, bounce));
    }
    e
}

fn delivery_entries(
    at: i64,
    queue_id: &str,
    to: &str,
    bounce: bool,
) -> Vec<(i64, &'static str, u32, String)> {
    let status = if bounce {
        format!(
            "dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.8] said: 550 5.1.1 <{to}>: Recipient address rejected: User unknown (in reply to RCPT TO command))"
        )
    } else {
        "dsn=2.0.0, status=sent (250 2.0.0 OK)".to_string()
    };
    vec![
        (
            at,
            "postfix/smtp",
            2003,
            format!(
                "{queue_id}: to=<{to}>, relay=mx.example.net[198.51.100.8]:25, delay=0.5, delays=0.1/0/0.2/0.2, {status}"
            ),
        ),
        (at, "postfix/qmgr", 999, format!("{queue_id}: removed")),
    ]
}

/// Ten addresses guessing three IMAP passwords each of `user`, from
/// `start`, as Dovecot writes them to the journal (dovecot.service).
fn dovecot_guess_entries(start: i64, user: &str) -> Vec<(i64, String)> {
    (0..10)
        .map(|i| {
            let entry = (start + 10 + i * 20, "dovecot", 800 + i as u32, format!("imap-login: Disconnected (auth failed, 3 attempts in 9 secs): user=<{user}>, method=PLAIN, rip=198.51.100.{i}, lip=192.0.2.1"));
            (entry.0, unit_export("dovecot.service", &[entry]))
        })
        .collect()
}

/// The export of entries of several units, in time order.
fn in_time_order(mut entries: Vec<(i64, String)>) -> String {
    entries.sort_by_key(|e| e.0);
    entries.into_iter().map(|e| e.1).collect()
}

/// Three hours ago: recent enough for the daemon's first read of the
/// journal (the last seven days).
fn a_few_hours_ago() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 3 * 3600
}

/// That a verdict change of `sender` stored in `dir` gives `reason`.
pub(crate) fn assert_stored_reason(dir: &TempDir, sender: &str, reason: &str, context: &str) {
    let store = store::Store::open(&dir.path().join("unlisted.db")).unwrap();
    let history = store.sender_history(sender).unwrap();
    assert!(
        history.iter().any(|h| h.3.contains(reason)),
        "{history:?}\n{context}"
    );
}

fn assert_mailbox_named_after_30_guesses(dir: &TempDir) {
    let reason = "30 failed logins from 10 addresses";
    assert_stored_reason(dir, "auth:info@shop.example", reason, "");
}

/// Debian 12 keeps no syslog file: Postfix and Dovecot write to the
/// journal alone. One `[[log]]` follows both units, so a login after
/// IMAP guesses is told of them.
#[test]
fn postfix_and_dovecot_in_the_journal_name_a_login_after_imap_guesses() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal-dovecot");
    let cfg = journal_config(&hook, "postfix*, dovecot.service", "journal", "postfix", "");
    dir.write("unlisted.toml", &cfg);
    let start = a_few_hours_ago();
    let mut entries = dovecot_guess_entries(start, "info@shop.example");
    let mail = postfix_entries(
        start + 900,
        "4AB001",
        "info@shop.example",
        "r@example.net",
        false,
        true,
    );
    entries.push((start + 900, unit_export("postfix@-.service", &mail)));
    journal_write(&dir, &in_time_order(entries));
    once(&dir);
    assert_eq!(stored(&dir), 1);
    assert_mailbox_named_after_30_guesses(&dir);
}

/// Debian 12 with Exim: Exim writes its own mainlog, Dovecot only to the
/// journal. A `[[log]]` of Dovecot's units alone is a login log beside
/// the main log.
#[test]
fn exims_mainlog_and_dovecot_in_the_journal_name_a_login_after_imap_guesses() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal-dovecot-exim");
    let second = "journal = \"dovecot*\"\njournal_directory = \"journal\"";
    dir.write("unlisted.toml", &exim_and(&hook, second, ""));
    let start = a_few_hours_ago();
    journal_write(
        &dir,
        &in_time_order(dovecot_guess_entries(start, "info@shop.example")),
    );
    let t = maillog::Stamp {
        secs: start + 900,
        millis: 0,
    }
    .iso()
    .replace('T', " ");
    let id = exim_id(6000);
    append(
        &dir,
        "mail.log",
        &format!(
            "{t} {id} <= info@shop.example H=(pc) [198.51.100.7]:50000 P=esmtpa A=dovecot_login:info@shop.example S=900 for r@example.net\n{t} {id} => r@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"\n{t} {id} Completed\n"
        ),
    );
    once(&dir);
    assert_eq!(stored(&dir), 1);
    assert_mailbox_named_after_30_guesses(&dir);

    // `logs analyze` reads the journal's Dovecot entries beside the file
    // as a login log, in either format setting.
    for format in ["exim", "auto"] {
        let args = [
            "logs",
            "analyze",
            "--json",
            "--all",
            "--format",
            format,
            "--journal",
            "dovecot*",
            "--journal-directory",
            "journal",
            "mail.log",
        ];
        let o = unlisted(dir.path(), &args);
        let lines = json_lines(&o);
        let summary = lines.last().unwrap();
        assert_eq!(
            summary["login_logs"][0]["file"], "journal:dovecot*",
            "{summary:#}"
        );
        assert_eq!(summary["login_logs"][0]["failed_logins"], 30, "{summary:#}");
        assert_eq!(summary["failed_logins"]["failures"], 30, "{summary:#}");
        let mailbox = lines
            .iter()
            .find(|l| l["sender"] == "auth:info@shop.example")
            .expect("the mailbox");
        assert!(
            mailbox["reasons"]
                .to_string()
                .contains("30 failed logins from 10 addresses"),
            "{mailbox:#}"
        );
    }
    // Beside files, the journal gives failed logins only.
    let args = ["logs", "analyze", "--journal", "postfix*", "mail.log"];
    let o = unlisted(dir.path(), &args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Dovecot's units alone"),
        "{}",
        stderr(&o)
    );
    // Alone, a login log names no login: `config check` says so.
    let alone = journal_config(&hook, "dovecot*", "journal", "auto", "");
    dir.write("unlisted.toml", &alone);
    let o = unlisted(dir.path(), &["config", "check"]);
    assert!(
        stderr(&o).contains("log[0] journal:dovecot*: a login log (Dovecot's lines, no MTA's), but no other [[log]] of its server is followed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exim_in_the_journal_stores_nothing_twice_when_the_zone_changes() {
    // Exim through syslog into the journal: its entries keep Exim's own
    // wall-clock stamp, so a new zone moves their times, as in a file
    // (a_new_time_zone_stores_nothing_twice).
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal-exim-zone");
    let cfg = |extra: &str| journal_config(&hook, "exim4*", "journal", "exim", extra);
    dir.write("unlisted.toml", &cfg(""));
    let start = a_few_hours_ago();
    let stamp = |at: i64| {
        maillog::Stamp {
            secs: at,
            millis: 0,
        }
        .iso()
        .replace('T', " ")
    };
    let message = |at: i64, n: usize, done: bool| {
        let (t, id) = (stamp(at), exim_id(3000 + n));
        let mut e = vec![(
            at,
            "exim",
            7000 + n as u32,
            format!(
                "{t} {id} <= amy@example.org H=(laptop) [198.51.100.7]:50000 P=esmtpa A=dovecot_login:amy@example.org S=900 for f{n}@example.net"
            ),
        )];
        if done {
            e.push((at, "exim", 7100 + n as u32, format!("{t} {id} => f{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"")));
            e.push((at, "exim", 7100 + n as u32, format!("{t} {id} Completed")));
        }
        e
    };
    let mut entries = message(start, 0, false);
    for n in 1..4 {
        entries.extend(message(start + n as i64 * 60, n, true));
    }
    crate::ingest::journal_append_unit(&dir, "exim4.service", &entries);
    once(&dir);
    assert_eq!(stored(&dir), 3);
    dir.write("unlisted.toml", &cfg("timezone = \"America/Chicago\""));
    let t = stamp(start + 600);
    let done = vec![(
        start + 600,
        "exim",
        7200,
        format!("{t} {} Completed", exim_id(3000)),
    )];
    crate::ingest::journal_append_unit(&dir, "exim4.service", &done);
    let o = unlisted(dir.path(), &["serve", "--once", "--listen", ""]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("time zone changed from UTC to America/Chicago: reading on from entry"),
        "{}",
        stderr(&o)
    );
    assert_eq!(stored(&dir), 3);
}

#[test]
fn a_postfix_log_kept_only_in_the_journal_is_followed_with_its_cursor() {
    // No syslog daemon: Postfix's log is in the systemd journal alone.
    // The daemon reads it through journalctl, a message open at a stop is
    // whole after it, and nothing is stored twice.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal");
    dir.write(
        "unlisted.toml",
        &journal_config(&hook, "postfix*", "journal", "postfix", "max_lines = 7"),
    );
    // Recent enough for the first read (the last seven days).
    let start = a_few_hours_ago();
    let mut entries = Vec::new();
    for i in 0..30usize {
        let done = i < 29;
        entries.extend(postfix_entries(
            start + i as i64 * 30,
            &format!("4B{i:08X}"),
            "bad@shop.example",
            &format!("r{i}@example.net"),
            i % 2 == 0,
            done,
        ));
    }
    journal_append(&dir, &entries);
    once(&dir);
    let status = json_lines(&unlisted(dir.path(), &["status", "--json"]));
    let log = status.iter().find(|l| l["type"] == "log").expect("a log");
    assert_eq!(log["path"], "journal:postfix*");
    assert_eq!(log["messages"], 29, "{log}");
    assert!(
        !status.iter().any(|l| l["type"] == "log_problem"),
        "{status:?}"
    );
    let alert = sender_alert(&hook);
    assert_eq!(alert["sender"], "auth:bad@shop.example");
    // The open message completes after the stop, and others follow. The
    // journal keeps entries in the order they came; these carry times
    // nine days old (a sender's clock), which only the cursor reaches: a
    // reader that asked for the last seven days again would miss them.
    let old = start - 9 * 86_400;
    let mut more = delivery_entries(old, "4B0000001D", "r29@example.net", false);
    for i in 0..3usize {
        more.extend(postfix_entries(
            old + 100 + i as i64 * 30,
            &format!("4C{i:08X}"),
            "amy@shop.example",
            &format!("f{i}@example.org"),
            false,
            true,
        ));
    }
    journal_append(&dir, &more);
    once(&dir);
    once(&dir);
    assert_eq!(stored(&dir), 33);
    let o = unlisted(dir.path(), &["status", "--json"]);
    let bad = json_lines(&o)
        .into_iter()
        .find(|l| l["sender"] == "auth:bad@shop.example")
        .unwrap();
    assert_eq!(bad["messages"], 30, "{bad}");
}

/// journald's notice that it dropped Postfix's lines (its rate limit)
/// comes with Postfix's entries; the daemon says so in its log.
#[test]
fn the_daemon_tells_of_lines_journald_dropped() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal-dropped");
    dir.write(
        "unlisted.toml",
        &journal_config(&hook, "postfix*", "journal", "postfix", ""),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 3600;
    let mut export = unit_export(
        "postfix@-.service",
        &postfix_entries(
            now,
            "4D00000001",
            "amy@shop.example",
            "f@example.org",
            false,
            true,
        ),
    );
    export.push_str(&export_entry(
        now + 5,
        &journald_dropped(4321, "postfix@-.service"),
    ));
    journal_write(&dir, &export);
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o)
            .lines()
            .any(|l| l.contains("journald dropped the MTA's lines") && l.contains("lines=4321")),
        "{}",
        stderr(&o)
    );
    let status = json_lines(&unlisted(dir.path(), &["status", "--json"]));
    let log = status.iter().find(|l| l["type"] == "log").expect("a log");
    assert_eq!(log["dropped"], 4321, "{log}");
    assert_eq!(log["not_understood"], 0, "{log}");
    assert_eq!(stored(&dir), 1);
}

#[test]
fn a_journal_that_cannot_be_read_is_reported() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal-missing");
    dir.write(
        "unlisted.toml",
        &journal_config(&hook, "postfix*", "no-such-dir", "postfix", ""),
    );
    once(&dir);
    let p = log_problem(&dir).expect("no log problem");
    assert_eq!(p["path"], "journal:postfix*");
    let why = p["problem"].as_str().unwrap();
    assert!(
        why.starts_with("journalctl failed") && why.contains("no-such-dir"),
        "{why}"
    );
}

#[test]
fn a_journal_without_the_units_says_so() {
    // Postfix has not logged yet, or the pattern names no unit there.
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("journal-no-unit");
    journal_append(
        &dir,
        &postfix_entries(
            1_764_324_000,
            "4D00000001",
            "amy@shop.example",
            "f@example.org",
            false,
            true,
        ),
    );
    dir.write(
        "unlisted.toml",
        &journal_config(&hook, "exim*", "journal", "exim", ""),
    );
    once(&dir);
    let p = log_problem(&dir).expect("no log problem");
    assert_eq!(
        p["problem"],
        "the journal has no entries of units exim* (yet)"
    );
}

/// Junk in a followed log is counted and told of, with where the last of
/// it was (its control characters written out), and the mail around it is
/// read.
#[test]
fn lines_not_understood_in_a_followed_log_are_told_with_where() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-junk");
    dir.write("unlisted.toml", &config(&hook, ""));
    let good = messages(0, 5, false);
    let junk = "junk\n\u{1b}[2Jmore junk\nand more\n";
    append(&dir, "mail.log", &good);
    append(&dir, "mail.log", junk);
    append(&dir, "mail.log", &messages(5, 5, false));
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stored(&dir), 10);
    let said = stderr(&o);
    let told = said
        .lines()
        .find(|l| l.contains("lines not understood"))
        .unwrap_or_else(|| panic!("{said}"));
    assert!(told.contains("lines=3"), "{told}");
    let last_at = good.len() + "junk\n\u{1b}[2Jmore junk\n".len();
    assert!(
        told.contains(&format!("mail.log at byte {last_at}")),
        "{told}"
    );
    assert!(told.contains("and more"), "{told}");
    // `status` says it too, until the daemon starts again.
    let status = json_lines(&unlisted(dir.path(), &["status", "--json"]));
    let log = status.iter().find(|l| l["type"] == "log").expect("a log");
    assert_eq!(log["not_understood"], 3, "{log}");
    assert_eq!(log["lines"], good.lines().count() * 2 + 3, "{log}");
    assert_eq!(
        log["last_not_understood_at"],
        format!("mail.log at byte {last_at}")
    );
    assert_eq!(log["last_not_understood"], "and more");
    let o = unlisted(dir.path(), &["status"]);
    assert!(
        stderr(&o).contains("log mail.log: 3 of 33 lines not understood since"),
        "{}",
        stderr(&o)
    );
    // Read again from the start elsewhere: the escape is written out.
    let dir2 = TempDir::new("ingest-junk2");
    dir2.write("unlisted.toml", &config(&hook, ""));
    append(&dir2, "mail.log", "\u{1b}[2J\n");
    let o = unlisted(dir2.path(), &["serve", "--once"]);
    let said = stderr(&o);
    assert!(said.contains("last=\\x1b[2J"), "{said}");
    assert!(!said.contains("\u{1b}[2J"), "{said}");
}

/// A crash while Exim wrote leaves NUL bytes where the log's last block
/// was never written; after the reboot Exim appends its next line after
/// them. The daemon, following the log, reads that line and every other.
#[test]
fn a_crash_hole_in_a_followed_log_loses_no_line_after_it() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-hole");
    dir.write("unlisted.toml", &config(&hook, ""));
    append(&dir, "mail.log", &messages(0, 20, false));
    once(&dir);
    assert_eq!(stored(&dir), 20);
    // A few blocks, then more than the parser reads of a line.
    for (n, size) in [(1, 4096), (2, 3 << 20)] {
        append(&dir, "mail.log", &"\0".repeat(size));
        once(&dir);
        append(&dir, "mail.log", &messages(20 * n, 20, false));
        once(&dir);
        assert_eq!(stored(&dir), 20 * (n as i64 + 1), "{size}");
    }
}

/// The daemon judges a login after guesses as `logs analyze` does: the
/// mailbox's verdict change is stored with the failures as its reason,
/// also when the guesses were read by the run before (`serve --once`
/// from cron, a restart): kept in the store, or, when that run stopped
/// with a message open from before them, read again and counted once.
#[test]
fn the_daemon_names_a_login_after_failed_logins_across_a_restart() {
    for keep_open in [false, true] {
        failed_logins_then_a_restart(keep_open);
    }
}

/// Guesses, a `serve --once`, the logins, another. With `keep_open`, a
/// message from before the guesses is still open at the first stop.
fn failed_logins_then_a_restart(keep_open: bool) {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-failed-logins");
    dir.write("unlisted.toml", &config(&hook, ""));
    let open = exim_id(9000);
    let (mut first, mut then) = (String::new(), String::new());
    if keep_open {
        writeln!(first, "{} {open} <= amy@example.org H=(laptop) [192.0.2.7]:50000 P=esmtpa A=dovecot_login:amy@example.org S=900 for f@example.net", ts(0, 0)).unwrap();
        writeln!(then, "{} {open} => f@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"", ts(0, 880)).unwrap();
        writeln!(then, "{} {open} Completed", ts(0, 880)).unwrap();
    }
    for i in 0..30i64 {
        writeln!(first, "{} dovecot_login authenticator failed for (x) [198.51.100.{}]:5000: 535 Incorrect authentication data (set_id=info@shop.example)", ts(0, 10 + i * 20), i % 10).unwrap();
    }
    for n in 0..3 {
        auth_message(&mut then, n, "info@shop.example", 900 + n as i64 * 60);
    }
    append(&dir, "mail.log", &first);
    once(&dir);
    assert_eq!(stored(&dir), 0);
    // `status` and /metrics count them.
    let o = unlisted(dir.path(), &["status", "--json"]);
    let log = json_lines(&o)
        .into_iter()
        .find(|l| l["type"] == "log")
        .unwrap();
    assert_eq!(log["failed_logins"], 30, "{log:#}");
    let o = unlisted(dir.path(), &["status"]);
    assert!(
        stdout(&o).contains("30 failed logins since"),
        "{}",
        stdout(&o)
    );
    append(&dir, "mail.log", &then);
    once(&dir);
    assert_eq!(stored(&dir), 3 + i64::from(keep_open));
    let store = store::Store::open(&dir.path().join("unlisted.db")).unwrap();
    let history = store.sender_history("auth:info@shop.example").unwrap();
    let last = history.first().expect("a verdict change for the mailbox");
    assert_eq!(last.2, "suspicious", "{keep_open}: {history:?}");
    assert!(last.3.contains("\"failed_logins\""), "{history:?}");
    assert!(
        last.3.contains("30 failed logins from 10 addresses"),
        "{keep_open}: {history:?}"
    );
}

/// A small tmpfs mounted on a directory for the test's life: a real disk
/// that fills up (the tests run as root, as CI does).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(dir: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let o = std::process::Command::new(testsupport::find_program("mount"))
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "unlisted-full",
            ])
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "mount: {}", stderr(&o));
        SmallDisk(dir.to_path_buf())
    }

    /// Writes a file until the disk has no room left; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        // Bounded: the disk is a few MiB.
        for _ in 0..10_000 {
            if let Err(e) = f.write_all(&block).and_then(|()| f.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
                return path;
            }
        }
        panic!("the disk never filled up");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new(testsupport::find_program("umount"))
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// A store on a disk that fills up: the daemon says so, stays up, and
/// once there is room again stores what it read meanwhile, each message
/// once, and judges what came after.
#[test]
fn a_full_disk_pauses_the_daemon_which_then_stores_everything_once() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("ingest-full-disk");
    let disk = SmallDisk::mount(&dir.path().join("disk"), "4m");
    let db = ["--db", "disk/unlisted.db"];
    let stored_on_disk = || -> i64 {
        let o = unlisted(dir.path(), &[&db[..], &["status", "--json"]].concat());
        json_lines(&o)
            .iter()
            .filter(|l| l["type"] == "log")
            .map(|l| l["messages"].as_i64().unwrap())
            .sum()
    };
    dir.write("unlisted.toml", &config(&hook, "poll = \"100ms\""));
    append(&dir, "mail.log", &messages(0, 10, false));
    let o = unlisted(
        dir.path(),
        &[&db[..], &["token", "create", "--role", "read"]].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let auth = format!("Bearer {}", stdout(&o).lines().last().unwrap().trim());
    let port = testsupport::free_tcp_port();
    let metrics = || {
        let (st, _, m) = crate::web::http(port, "GET", "/metrics", &[("Authorization", &auth)], "");
        assert_eq!(st, 200, "{m}");
        m
    };
    let listen = format!("127.0.0.1:{port}");
    let args = [&db[..], &["serve", "--listen", &listen]].concat();
    let mut child = crate::enforce::Kill(crate::spawn_telling(dir.path(), &args, "serve.stderr"));
    let said = || std::fs::read_to_string(dir.path().join("serve.stderr")).unwrap_or_default();
    assert_eq!(
        wait_for(Duration::from_secs(20), || (stored_on_disk() == 10)
            .then_some(10)),
        Some(10),
        "{}",
        said()
    );

    let filler = disk.fill();
    append(&dir, "mail.log", &messages(10, 10, false));
    wait_for(Duration::from_secs(20), || {
        said().contains("cannot write the store").then_some(())
    })
    .unwrap_or_else(|| panic!("the daemon never said the store failed:\n{}", said()));
    assert!(
        child.0.try_wait().unwrap().is_none(),
        "the daemon ended:\n{}",
        said()
    );
    // The dashboard's side stays up, and says so.
    let m = metrics();
    assert!(m.contains("unlisted_store_failing 1\n"), "{m}");
    assert!(!m.contains("unlisted_store_failures_total 0\n"), "{m}");
    let health = crate::web::http(port, "GET", "/healthz", &[], "");
    assert_eq!(
        (health.0, health.2.as_str()),
        (503, r#"{"status":"store_failing"}"#)
    );

    std::fs::remove_file(filler).unwrap();
    let mut log = String::new();
    php_mailer(&mut log, 8 * 3600 + 20 * 60);
    append(&dir, "mail.log", &log);
    let n = wait_for(Duration::from_secs(30), || {
        let n = stored_on_disk();
        (n == 100).then_some(n)
    });
    assert_eq!(n, Some(100), "{}", said());
    // Said once the round that stored them is over.
    wait_for(Duration::from_secs(10), || {
        said().contains("the store works again").then_some(())
    })
    .unwrap_or_else(|| panic!("the daemon never said the store works:\n{}", said()));
    assert!(metrics().contains("unlisted_store_failing 0\n"));
    assert_eq!(crate::web::http(port, "GET", "/healthz", &[], "").0, 200);
    // Judged and alerted once, as the mail came after the store failed.
    let alert = sender_alert(&hook);
    assert_eq!(alert["sender"], PHP_SENDER, "{alert}");
    std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    let ended = wait_for(Duration::from_secs(10), || child.0.try_wait().unwrap());
    assert_eq!(ended.and_then(|s| s.code()), Some(0), "{}", said());
    assert_eq!(hook.bodies().len(), 1, "{:?}", hook.bodies());
}

/// An alert receiver that hangs (it takes connections and never answers)
/// costs one timeout per rest of its channel, not one per alert per round:
/// the logs are read on meanwhile.
#[test]
fn a_hung_alert_receiver_does_not_hold_up_the_logs() {
    // A real listener that stops answering: connections are taken and
    // held, nothing is read or written. Counted, to see the tries.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let tries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = tries.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn);
        }
    });
    let tries = || tries.load(std::sync::atomic::Ordering::SeqCst);
    let dir = TempDir::new("ingest-hung-hook");
    dir.write(
        "unlisted.toml",
        &format!(
            "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[ingest]\npoll = \"100ms\"\n\n[alerts.webhook]\nurl = \"http://127.0.0.1:{port}/hook\"\ntimeout = \"1s\"\n"
        ),
    );
    // Five scripts spamming: five alerts waiting.
    let mut log = String::new();
    for k in 0..5 {
        let cwd = format!("/home/bob{k}/public_html/wp-content/uploads/2024/04");
        crate::logs::php_mailer_in(&mut log, k * 3600, &cwd);
    }
    append(&dir, "mail.log", &log);
    let _daemon = crate::enforce::Kill(crate::spawn(dir.path(), &["serve"]));
    assert_eq!(
        wait_for(Duration::from_secs(20), || (stored(&dir) == 400)
            .then_some(())),
        Some(())
    );
    assert!(
        wait_for(Duration::from_secs(10), || (tries() > 0).then_some(())).is_some(),
        "no alert was tried"
    );
    // New mail is read within a few rounds, not after a timeout per alert.
    append(&dir, "mail.log", &messages(0, 10, false));
    assert_eq!(
        wait_for(Duration::from_secs(4), || (stored(&dir) == 410)
            .then_some(())),
        Some(()),
        "the logs waited for the alerts ({} tries)",
        tries()
    );
    // One try, then the channel rests (30 s): the other four alerts wait.
    assert_eq!(tries(), 1);
}

/// `status` says whether the daemon runs, stopped, or died, from the
/// heartbeat it keeps in the store; a second daemon on the same store is
/// told of the first.
#[test]
fn status_says_whether_the_daemon_runs_stopped_or_died() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("heartbeat");
    dir.write("unlisted.toml", &config(&hook, "poll = \"100ms\""));
    append(&dir, "mail.log", &messages(0, 3, false));
    let daemon = || {
        json_lines(&unlisted(dir.path(), &["status", "--json"]))
            .into_iter()
            .find(|l| l["type"] == "daemon")
            .expect("no daemon line")
    };
    let running = |pid: u32| {
        wait_for(Duration::from_secs(10), || {
            let d = daemon();
            (d["state"] == "running" && d["pid"] == pid).then_some(())
        })
        .unwrap_or_else(|| panic!("never running as {pid}: {}", daemon()))
    };
    assert_eq!(daemon()["state"], "never");

    let mut a = crate::spawn(dir.path(), &["serve"]);
    running(a.id());
    let o = unlisted(dir.path(), &["status"]);
    assert!(
        stdout(&o).contains("daemon: running since"),
        "{}",
        stdout(&o)
    );
    std::process::Command::new("kill")
        .args(["-TERM", &a.id().to_string()])
        .status()
        .unwrap();
    a.wait().unwrap();
    assert_eq!(daemon()["state"], "stopped");

    let mut b = crate::spawn(dir.path(), &["serve"]);
    running(b.id());
    b.kill().unwrap(); // SIGKILL: no word in the store
    b.wait().unwrap();
    let d = daemon();
    assert_eq!(
        (d["state"].as_str(), &d["pid"]),
        (Some("gone"), &b.id().into())
    );
    let o = unlisted(dir.path(), &["status"]);
    assert!(
        stderr(&o).contains("ended without stopping"),
        "{}",
        stderr(&o)
    );

    once(&dir);
    let d = daemon();
    assert_eq!(
        (d["state"].as_str(), d["once"].as_bool()),
        (Some("stopped"), Some(true))
    );

    let c = crate::enforce::Kill(crate::spawn(dir.path(), &["serve"]));
    running(c.0.id());
    let _d = crate::enforce::Kill(crate::spawn_telling(
        dir.path(),
        &["serve"],
        "second.stderr",
    ));
    let told = wait_for(Duration::from_secs(10), || {
        let text = std::fs::read_to_string(dir.path().join("second.stderr")).unwrap_or_default();
        text.contains("another `unlisted serve` runs on this store")
            .then_some(text)
    });
    assert!(told.is_some_and(|t| t.contains(&format!("pid={}", c.0.id()))));
}

/// SIGHUP (`systemctl reload`) reads the config again: one with problems
/// is refused and the daemon runs on with its own; a good one restarts it
/// in place (the same pid) on the new config.
#[test]
fn sighup_refuses_a_broken_config_and_takes_up_a_good_one() {
    let hook = WebhookReceiver::start();
    let dir = TempDir::new("sighup");
    dir.write("unlisted.toml", &config(&hook, "poll = \"100ms\""));
    append(&dir, "mail.log", &messages(0, 3, false));
    let mut child = crate::enforce::Kill(crate::spawn_telling(
        dir.path(),
        &["serve", "-v"],
        "serve.stderr",
    ));
    let pid = child.0.id();
    let said = || std::fs::read_to_string(dir.path().join("serve.stderr")).unwrap_or_default();
    let until = |what: &str, ok: &dyn Fn() -> bool| {
        wait_for(Duration::from_secs(15), || ok().then_some(()))
            .unwrap_or_else(|| panic!("never {what}:\n{}", said()));
    };
    let hup = || {
        std::process::Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .unwrap();
    };
    until("stored 3", &|| stored(&dir) == 3);

    dir.write("unlisted.toml", "[[log]]\npath = 42\n");
    hup();
    until("refused the broken config", &|| {
        said().contains("the new config is refused")
    });
    assert!(child.0.try_wait().unwrap().is_none(), "{}", said());

    dir.write(
        "unlisted.toml",
        &exim_and(
            &hook,
            "path = \"other.log\"\nformat = \"exim\"",
            "poll = \"100ms\"",
        ),
    );
    append(&dir, "other.log", &messages(10, 3, false));
    hup();
    until("followed the new log", &|| stored(&dir) == 6);
    assert!(said().contains("restarting in place"), "{}", said());
    // The same process, running on.
    assert!(child.0.try_wait().unwrap().is_none(), "{}", said());
    let daemon = json_lines(&unlisted(dir.path(), &["status", "--json"]))
        .into_iter()
        .find(|l| l["type"] == "daemon")
        .unwrap();
    assert_eq!(daemon["pid"], pid, "{daemon}");
}
