//! Real MTA logs: Debian's Exim (cPanel's log selector) and Postfix (from
//! its unpacked package), started by the tests on loopback, take
//! authenticated submissions from swaks and sendmail submissions, and relay
//! to an SMTP sink that refuses some recipients. `logs analyze` must
//! understand every line they wrote and name the senders.

use std::path::PathBuf;
use std::time::Duration;

use testsupport::{Exim, Postfix, SmtpSink, TempDir, swaks};

use crate::{json_lines, stderr, unlisted};

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

#[test]
fn real_exim_log_is_fully_understood_and_names_the_senders() {
    let sink = SmtpSink::start();
    let exim = Exim::start(sink.port, "info@shop.example", "secret");
    let mut homes = Homes(Vec::new());
    let uploads = homes.dir("bob", "public_html/wp-content/uploads/2024");
    let contact = homes.dir("shop", "public_html/contact");
    let pid = std::process::id();

    // A stolen mailbox: logins from 12 networks, every third message also
    // to an address that does not exist.
    let mut completed = 0;
    for i in 0..24 {
        let ip = format!("127.0.{}.1", i % 12 + 1);
        let friend = format!("friend{i}@dest.example");
        let dead = format!("nosuchuser{i}@dest.example");
        let mut to = vec![friend.as_str()];
        if i % 3 == 0 {
            to.push(dead.as_str());
            completed += 1; // Exim's bounce to the sender
        }
        assert!(swaks(
            exim.port,
            &ip,
            Some(("info@shop.example", "secret")),
            "forged@other.example",
            &to,
            "Invoice => \"urgent\""
        ));
        completed += 1;
    }
    // Relaying without AUTH is refused: a rejection line, no message.
    assert!(!swaks(
        exim.port,
        "127.0.50.1",
        None,
        "x@other.example",
        &["y@dest.example"],
        "relay?"
    ));
    // A PHP mailer dropped in uploads, and the shop's honest contact form.
    for i in 0..25 {
        exim.sendmail(
            &uploads,
            "wordpress@bob.example",
            &format!("To: parcel{i}@dest.example\nSubject: Your parcel\n\nclick\n"),
        );
        completed += 1;
    }
    for _ in 0..3 {
        exim.sendmail(
            &contact,
            "shop@shop.example",
            "To: owner@dest.example\nSubject: Contact form\n\nhello\n",
        );
        completed += 1;
    }
    let log = exim.wait_completed(completed, Duration::from_secs(30));
    assert_eq!(log.matches(" Completed\n").count(), completed, "{log}");

    let dir = TempDir::new("mta");
    let mainlog = exim.mainlog();
    let o = unlisted(
        dir.path(),
        &["logs", "analyze", "--json", mainlog.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["format"], "exim");
    assert_eq!(summary["not_understood"], 0, "{summary:#}\n{log}");
    assert_eq!(summary["messages"].as_u64().unwrap() as usize, completed);
    assert_eq!(summary["incomplete"], 0);

    let find = |s: &str| {
        lines
            .iter()
            .find(|l| l["sender"] == s)
            .unwrap_or_else(|| panic!("no sender {s}: {lines:#?}"))
            .clone()
    };
    let mailbox = find("auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert_eq!(mailbox["messages"], 24);
    assert_eq!(mailbox["client_ips"], 12);
    assert_eq!(mailbox["bounced"], 8);
    let codes = mailbox["reasons"].to_string();
    assert!(codes.contains("login_networks"), "{codes}");

    let php = find(&format!("script:{}", uploads.display()));
    assert_eq!(php["verdict"], "spamming", "{php:#}");
    assert_eq!(php["account"], format!("unlisted-test-{pid}-bob"));
    assert_eq!(php["messages"], 25);

    let form = find(&format!("script:{}", contact.display()));
    assert_eq!(form["verdict"], "ok");
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

#[test]
fn real_postfix_log_is_fully_understood_and_names_the_senders() {
    let sink = SmtpSink::start();
    let postfix = Postfix::start(sink.port, "info", "shop.example", "secret");
    let mut removed = 0;
    // A stolen mailbox: SASL logins from 12 networks, dead addresses mixed in.
    for i in 0..24 {
        let ip = format!("127.0.{}.1", i % 12 + 1);
        let friend = format!("friend{i}@dest.example");
        let dead = format!("nosuchuser{i}@dest.example");
        let mut to = vec![friend.as_str()];
        if i % 3 == 0 {
            to.push(dead.as_str());
            removed += 1; // Postfix's bounce to the sender
        }
        assert!(swaks(
            postfix.port,
            &ip,
            Some(("info@shop.example", "secret")),
            "forged@other.example",
            &to,
            "Invoice => \"urgent\""
        ));
        removed += 1;
    }
    // Relaying without SASL from another address is refused.
    assert!(!swaks(
        postfix.port,
        "127.0.50.1",
        None,
        "x@other.example",
        &["y@dest.example"],
        "relay?"
    ));
    // mail() from a local script (uid 0, see Postfix::sendmail), to a list
    // where two in five addresses are dead.
    for i in 0..30 {
        let to = if i % 5 < 2 {
            format!("nosuchuser-list{i}@dest.example")
        } else {
            format!("list{i}@dest.example")
        };
        postfix.sendmail(
            "wordpress@site.example",
            &format!("To: {to}\nSubject: Newsletter\n\nhello\n"),
        );
        removed += 1;
        if i % 5 < 2 {
            removed += 1;
        }
    }
    let log = postfix.wait_removed(removed, Duration::from_secs(30));
    assert_eq!(log.matches(": removed\n").count(), removed, "{log}");

    let dir = TempDir::new("mta-postfix");
    let maillog = postfix.maillog();
    let o = unlisted(
        dir.path(),
        &["logs", "analyze", "--json", maillog.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["format"], "postfix");
    assert_eq!(summary["not_understood"], 0, "{summary:#}\n{log}");
    assert_eq!(summary["messages"].as_u64().unwrap() as usize, removed);
    assert_eq!(summary["incomplete"], 0);
    let find = |s: &str| {
        lines
            .iter()
            .find(|l| l["sender"] == s)
            .unwrap_or_else(|| panic!("no sender {s}: {lines:#?}"))
            .clone()
    };
    let mailbox = find("auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert_eq!(mailbox["messages"], 24);
    assert_eq!(mailbox["client_ips"], 12);
    let php = find("local:0");
    assert_eq!(php["verdict"], "spamming", "{php:#}");
    assert_eq!(php["messages"], 30);
    assert_eq!(php["bounced"], 12);
    assert!(php["reasons"].to_string().contains("bounce_ratio"));
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
