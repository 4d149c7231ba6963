//! Holds from the CLI, and the policy service spoken to over a real socket
//! the way Postfix speaks to it (SMTPD_POLICY_README framing).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use testsupport::{TempDir, wait_for};

use crate::{json_lines, stderr, stdout, unlisted};

#[test]
fn holds_are_added_listed_released_and_audited() {
    let dir = TempDir::new("holdcli");
    let d = dir.path();
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:Bob@Example.com",
            "--reason",
            "password stolen",
            "--action",
            "reject",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("held auth:bob@example.com: reject"),
        "{}",
        stdout(&o)
    );
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "script:/home/dave/public_html/wp-content/uploads/",
            "--reason",
            "PHP mailer",
            "--for",
            "2h",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let o = unlisted(d, &["hold", "list", "--json"]);
    let holds = json_lines(&o);
    assert_eq!(holds.len(), 2);
    assert_eq!(holds[0]["subject"], "auth:bob@example.com");
    assert_eq!(holds[0]["action"], "reject");
    assert_eq!(holds[0]["until"], serde_json::Value::Null);
    assert_eq!(
        holds[1]["subject"],
        "script:/home/dave/public_html/wp-content/uploads"
    );
    assert_eq!(holds[1]["action"], "hold", "hold is the default action");
    let span = holds[1]["until"].as_i64().unwrap() - holds[1]["created"].as_i64().unwrap();
    assert_eq!(span, 7200);
    assert!(holds[1]["actor"].as_str().unwrap().starts_with("cli:"));
    let table = stdout(&unlisted(d, &["hold", "list"]));
    assert!(
        table.contains("auth:bob@example.com") && table.contains("password stolen"),
        "{table}"
    );

    // Bad input is refused with a reason, and stores nothing.
    for (args, why) in [
        (
            vec!["hold", "add", "bob", "--reason", "x"],
            "not kind:value",
        ),
        (
            vec!["hold", "add", "ip:nope", "--reason", "x"],
            "not an IP address",
        ),
        (vec!["hold", "add", "auth:x", "--reason", "  "], "--reason"),
        (
            vec!["hold", "add", "auth:x", "--reason", "x", "--action", "drop"],
            "not an action",
        ),
    ] {
        let o = unlisted(d, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(
        json_lines(&unlisted(d, &["hold", "list", "--json"])).len(),
        2
    );

    let o = unlisted(
        d,
        &[
            "hold",
            "release",
            "auth:BOB@example.com",
            "--note",
            "password reset",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("released auth:bob@example.com"));
    let o = unlisted(d, &["hold", "release", "auth:bob@example.com"]);
    assert_eq!(o.status.code(), Some(1), "releasing what is not held");
    assert!(stderr(&o).contains("is not held"));

    let log = json_lines(&unlisted(d, &["hold", "log", "--json"]));
    let changes: Vec<(&str, &str)> = log
        .iter()
        .map(|e| {
            (
                e["change"].as_str().unwrap(),
                e["subject"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("released", "auth:bob@example.com"),
            ("placed", "script:/home/dave/public_html/wp-content/uploads"),
            ("placed", "auth:bob@example.com"),
        ]
    );
    assert_eq!(log[0]["detail"], "password reset");
}

/// `unlisted policy` on a free loopback port; returns the child and port.
pub(crate) fn start_policy(dir: &Path, extra_config: &str) -> (Child, u16) {
    let (child, port, _) = start_service(dir, extra_config, false);
    (child, port)
}

/// `unlisted policy` with the policy service and, when `milter`, the
/// milter, each on a free loopback port: (child, policy port, milter port).
pub(crate) fn start_service(dir: &Path, extra_config: &str, milter: bool) -> (Child, u16, u16) {
    let cfg = dir.join("policy.toml");
    std::fs::write(&cfg, extra_config).unwrap();
    let mut args = vec![
        "--config",
        cfg.to_str().unwrap(),
        "policy",
        "--listen",
        "127.0.0.1:0",
    ];
    if milter {
        args.extend(["--milter", "127.0.0.1:0"]);
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(&args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn unlisted policy");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut port_of = || -> u16 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        line.trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
    };
    let policy = port_of();
    let milter = if milter { port_of() } else { 0 };
    (child, policy, milter)
}

pub(crate) struct Kill(pub(crate) Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn request(user: &str, state: &str, instance: &str, rcpts: u32) -> String {
    format!(
        "request=smtpd_access_policy\nprotocol_state={state}\nprotocol_name=ESMTP\nclient_address=127.0.0.5\nclient_name=localhost\nsender={user}\nrecipient_count={rcpts}\ninstance={instance}\nsasl_method=PLAIN\nsasl_username={user}\n\n"
    )
}

/// Sends one request on `s` and reads the answer (the action line).
fn ask(s: &mut TcpStream, req: &str) -> String {
    s.write_all(req.as_bytes()).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut action = String::new();
    r.read_line(&mut action).unwrap();
    let mut blank = String::new();
    r.read_line(&mut blank).unwrap();
    assert_eq!(blank, "\n", "answer not ended by an empty line");
    action.trim_end().to_string()
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn policy_service_answers_holds_and_limits_over_many_connections() {
    let dir = TempDir::new("policy");
    let d = dir.path();
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:held@example.com",
            "--reason",
            "stolen",
            "--action",
            "reject",
        ],
    );
    assert!(o.status.success());
    // An account-wide hold, reaching the account's mailboxes through the
    // domain owners file (cPanel's /etc/userdomains format).
    std::fs::write(d.join("userdomains"), "shop.example: carol\n*: nobody\n").unwrap();
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "account:carol",
            "--reason",
            "unpaid",
            "--action",
            "defer",
        ],
    );
    assert!(o.status.success());
    let (child, port) = start_policy(
        d,
        "[enforce]\nuserdomains = \"userdomains\"\n[enforce.limits.auth]\nmessages_per_hour = 3\naction = \"defer\"\n[enforce.policy]\nidle_timeout = \"1s\"\n",
    );
    let _guard = Kill(child);

    // Many requests on one connection.
    let mut s = connect(port);
    assert_eq!(
        ask(&mut s, &request("held@example.com", "RCPT", "a1", 0)),
        "action=REJECT 5.7.1 Sending as auth:held@example.com is suspended: stolen"
    );
    assert_eq!(
        ask(&mut s, &request("info@shop.example", "RCPT", "a2", 0)),
        "action=DEFER 4.7.1 Sending as account:carol is paused: unpaid"
    );
    for i in 0..3 {
        let inst = format!("b{i}");
        // DATA then END-OF-MESSAGE of one message count once.
        assert_eq!(
            ask(&mut s, &request("ok@example.com", "DATA", &inst, 1)),
            "action=DUNNO"
        );
        assert_eq!(
            ask(
                &mut s,
                &request("ok@example.com", "END-OF-MESSAGE", &inst, 1)
            ),
            "action=DUNNO"
        );
    }
    assert_eq!(
        ask(
            &mut s,
            &request("ok@example.com", "END-OF-MESSAGE", "b3", 1)
        ),
        "action=DEFER 4.7.1 auth:ok@example.com is over its limit of 3 messages per hour; try again later"
    );

    // Many connections at once, each with its own requests.
    let threads: Vec<_> = (0..20)
        .map(|i| {
            std::thread::spawn(move || {
                let mut s = connect(port);
                (0..10)
                    .map(|j| {
                        ask(
                            &mut s,
                            &request(&format!("u{i}@example.com"), "RCPT", &format!("{i}.{j}"), 0),
                        )
                    })
                    .filter(|a| a == "action=DUNNO")
                    .count()
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(answered, 200);

    // A malformed request closes that connection without an answer; the
    // others are unharmed.
    let mut bad = connect(port);
    bad.write_all(b"this is not an attribute\n\n").unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        bad.read_to_end(&mut rest).unwrap(),
        0,
        "no answer to garbage"
    );
    let mut huge = connect(port);
    let _ = huge.write_all(&vec![b'x'; 100_000]);
    let mut rest = Vec::new();
    let _ = huge.read_to_end(&mut rest);
    assert!(rest.is_empty(), "no answer to an oversized line");
    assert_eq!(
        ask(&mut s, &request("held@example.com", "RCPT", "c1", 0))
            .split(' ')
            .next(),
        Some("action=REJECT")
    );

    // A hold placed from the CLI reaches the running service, and a release too.
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:ok@example.com",
            "--reason",
            "review",
            "--action",
            "hold",
        ],
    );
    assert!(o.status.success());
    let held = wait_for(Duration::from_secs(5), || {
        let a = ask(&mut s, &request("ok@example.com", "RCPT", "d1", 0));
        a.starts_with("action=HOLD").then_some(a)
    });
    assert_eq!(
        held.as_deref(),
        Some("action=HOLD held for review (auth:ok@example.com): review")
    );
    assert!(
        unlisted(d, &["hold", "release", "auth:held@example.com"])
            .status
            .success()
    );
    let released = wait_for(Duration::from_secs(5), || {
        (ask(&mut s, &request("held@example.com", "RCPT", "e1", 0)) == "action=DUNNO").then_some(())
    });
    assert!(released.is_some(), "release did not reach the service");

    // An idle connection is closed after enforce.policy.idle_timeout.
    let mut idle = connect(port);
    let mut buf = [0u8; 1];
    let n = idle.read(&mut buf).unwrap();
    assert_eq!(n, 0, "idle connection was not closed");
}

/// Holds of the two MTA tests: bob's mailbox refused, dave's held for
/// review, the PHP mailer under `uploads` refused.
fn hold_bob_dave_and_uploads(d: &Path, uploads: &str) {
    for (who, action, reason) in [
        ("auth:bob@shop.example", "reject", "password stolen"),
        ("auth:dave@shop.example", "hold", "under review"),
        (
            &*format!("script:{uploads}"),
            "reject",
            "PHP mailer in uploads",
        ),
    ] {
        let o = unlisted(
            d,
            &["hold", "add", who, "--reason", reason, "--action", action],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

/// The shipped Postfix lines, pointed at the policy service's and the
/// milter's ports.
fn postfix_snippet(port: u16, milter: u16) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../integration/postfix/main.cf");
    std::fs::read_to_string(path)
        .expect("integration/postfix/main.cf")
        .replace("127.0.0.1:10033", &format!("127.0.0.1:{port}"))
        .replace("127.0.0.1:10034", &format!("127.0.0.1:{milter}"))
}

fn subjects(sink: &testsupport::SmtpSink) -> Vec<String> {
    sink.messages()
        .iter()
        .filter_map(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        })
        .collect()
}

#[test]
fn real_postfix_stops_held_mailboxes_and_scripts_and_fails_open() {
    use testsupport::{Postfix, SmtpSink, swaks};
    let dir = TempDir::new("pfpolicy");
    let d = dir.path();
    let sink = SmtpSink::start();
    let (child, port, milter) =
        start_service(d, "[enforce.limits.auth]\nmessages_per_hour = 2\n", true);
    let mut policy = Kill(child);
    let users = [
        ("bob", "pw-bob"),
        ("carol", "pw-carol"),
        ("dave", "pw-dave"),
    ];
    let pf = Postfix::start_with(
        sink.port,
        "shop.example",
        &users,
        &postfix_snippet(port, milter),
    );
    let send = |user: &str, pw: &str, subject: &str| {
        swaks(
            pf.port,
            "127.0.0.1",
            Some((&format!("{user}@shop.example"), pw)),
            &format!("{user}@shop.example"),
            &["friend@dest.example"],
            subject,
        )
    };
    // A PHP mailer's submission through sendmail, with the headers PHP and
    // cPanel add (uid 0: the tests run as root, and the milter names the
    // local user from that uid).
    let php = |script: &str, subject: &str| {
        pf.sendmail(
            "erin@shop.example",
            &format!(
                "To: victim@dest.example\nSubject: {subject}\nX-PHP-Originating-Script: 0:{}\nX-Source-Args: /usr/bin/php {script}\n\nbuy now\n",
                script.rsplit('/').next().unwrap()
            ),
        )
    };
    let uploads = "/home/erin/public_html/wp-content/uploads";
    hold_bob_dave_and_uploads(d, uploads);
    // The service loads holds on start; these were added after it, so wait
    // for the reload.
    std::thread::sleep(Duration::from_millis(1200));

    // SMTP AUTH, through the policy service.
    assert!(
        !send("bob", "pw-bob", "bob-1"),
        "a held mailbox was accepted"
    );
    assert!(send("carol", "pw-carol", "carol-1"));
    assert!(send("carol", "pw-carol", "carol-2"));
    assert!(
        !send("carol", "pw-carol", "carol-3"),
        "the third message passed a limit of 2 per hour"
    );
    // HOLD accepts the message into Postfix's hold queue: the client sees
    // success, nothing leaves.
    assert!(send("dave", "pw-dave", "dave-1"));
    // sendmail, through the milter: the held script is refused, another
    // script of the same site is not.
    php(&format!("{uploads}/mailer.php"), "php-1");
    php("/home/erin/public_html/contact.php", "contact-1");
    // Both pass the milter before the next hold: pickup is asynchronous.
    let passed = wait_for(Duration::from_secs(20), || {
        let log = std::fs::read_to_string(pf.maillog()).ok()?;
        (log.matches("from=<erin@shop.example>, size=").count() >= 1
            && log.contains("milter-reject: END-OF-MESSAGE"))
        .then_some(())
    });
    assert!(
        passed.is_some(),
        "the sendmail submissions were not processed"
    );
    // A held local user is quarantined into the hold queue.
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "local:root",
            "--reason",
            "cron spam",
            "--action",
            "hold",
        ],
    );
    assert!(o.status.success());
    std::thread::sleep(Duration::from_millis(1200));
    php("/home/erin/public_html/contact.php", "contact-2");
    let log = wait_for(Duration::from_secs(20), || {
        let log = std::fs::read_to_string(pf.maillog()).ok()?;
        log.contains("milter-hold: END-OF-MESSAGE").then_some(log)
    })
    .unwrap_or_else(|| std::fs::read_to_string(pf.maillog()).unwrap());
    assert!(
        log.contains("milter-hold: END-OF-MESSAGE from localhost"),
        "{log}"
    );
    assert!(
        unlisted(d, &["hold", "release", "local:root"])
            .status
            .success()
    );

    assert!(
        unlisted(d, &["hold", "release", "auth:bob@shop.example"])
            .status
            .success()
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        send("bob", "pw-bob", "bob-2"),
        "a released mailbox was refused"
    );

    // Postfix bounces the refused sendmail submission to its sender, who is
    // relayed to the sink too.
    sink.wait_for(5, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let mut subj = subjects(&sink);
    subj.sort();
    assert_eq!(
        subj,
        [
            "Undelivered Mail Returned to Sender",
            "bob-2",
            "carol-1",
            "carol-2",
            "contact-1"
        ]
    );
    let log = std::fs::read_to_string(pf.maillog()).unwrap();
    assert!(log.contains("554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Sending as auth:bob@shop.example is suspended: password stolen"), "{log}");
    assert!(
        log.contains("over its limit of 2 messages per hour"),
        "{log}"
    );
    assert!(
        log.contains(": hold: END-OF-MESSAGE from"),
        "dave's message was not put on hold:\n{log}"
    );
    assert!(
        log.contains("milter-reject: END-OF-MESSAGE from localhost[127.0.0.1]: 5.7.1 Sending as script:/home/erin/public_html/wp-content/uploads is suspended: PHP mailer in uploads"),
        "{log}"
    );

    // With the service stopped, mail keeps flowing (default_action=DUNNO,
    // milter_default_action=accept): carol is over her limit and the
    // script still held in the store.
    let _ = policy.0.kill();
    let _ = policy.0.wait();
    assert!(
        send("carol", "pw-carol", "carol-4"),
        "mail stopped when the service was down"
    );
    php(&format!("{uploads}/mailer.php"), "php-2");
    sink.wait_for(7, Duration::from_secs(30));
    let subj = subjects(&sink);
    assert!(subj.contains(&"carol-4".to_string()), "{subj:?}");
    assert!(subj.contains(&"php-2".to_string()), "{subj:?}");
}

/// The shipped Exim ACLs and the main-section lines their header asks
/// for, pointed at `port`.
fn exim_snippet(port: u16) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../integration/exim/unlisted.acl");
    let acl = std::fs::read_to_string(path).expect("integration/exim/unlisted.acl");
    let main: String = acl
        .lines()
        .filter_map(|l| l.strip_prefix("#      "))
        .map(|l| l.replace("127.0.0.1:10033", &format!("127.0.0.1:{port}")) + "\n")
        .collect();
    assert_eq!(
        main.lines().count(),
        3,
        "the main-section lines in the file's header"
    );
    (main, acl)
}

#[test]
fn real_exim_refuses_held_mailboxes_and_scripts_and_fails_open() {
    use testsupport::{Exim, SmtpSink, swaks};
    let dir = TempDir::new("eximpolicy");
    let d = dir.path();
    let sink = SmtpSink::start();
    let (child, port) = start_policy(d, "");
    let mut policy = Kill(child);
    let (main, acl) = exim_snippet(port);
    let users = [
        ("bob@shop.example", "pw-bob"),
        ("carol@shop.example", "pw-carol"),
        ("dave@shop.example", "pw-dave"),
    ];
    let exim = Exim::start_opts(sink.port, &users, false, &main, &acl);
    let send = |user: &str, pw: &str, subject: &str| {
        swaks(
            exim.port,
            "127.0.0.1",
            Some((user, pw)),
            user,
            &["friend@dest.example"],
            subject,
        )
    };
    // A PHP mailer in an uploads directory, as cPanel's and PHP's headers
    // name it.
    let home = format!("/home/unlisted-test-{}-erin", std::process::id());
    let uploads = format!("{home}/public_html/wp-content/uploads");
    std::fs::create_dir_all(&uploads).expect("mkdir under /home (tests run as root)");
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _rm = Rm(home.clone());
    let php = |subject: &str| {
        format!(
            "To: victim@dest.example\nSubject: {subject}\nX-PHP-Originating-Script: 1001:mailer.php\nX-Source-Args: /usr/bin/php {uploads}/mailer.php\n\nbuy now\n"
        )
    };

    hold_bob_dave_and_uploads(d, &uploads);
    std::thread::sleep(Duration::from_millis(1200));

    assert!(
        !send("bob@shop.example", "pw-bob", "bob-1"),
        "a held mailbox was accepted"
    );
    assert!(send("carol@shop.example", "pw-carol", "carol-1"));
    assert!(
        send("dave@shop.example", "pw-dave", "dave-1"),
        "HOLD accepts (and freezes)"
    );
    let (ok, err) = exim.try_sendmail(Path::new(&uploads), "erin@shop.example", &php("php-1"));
    assert!(!ok, "a held script's mail was accepted");
    let log = std::fs::read_to_string(exim.mainlog()).unwrap();
    assert!(
        log.contains("F=<erin@shop.example> rejected by non-SMTP ACL: 5.7.1 Sending as script:"),
        "{log}"
    );
    assert!(
        log.contains("/wp-content/uploads is suspended: PHP mailer in uploads"),
        "{log}"
    );
    drop(err);
    // Another script of the same account is not held.
    let other = format!("{home}/public_html");
    let (ok, err) = exim.try_sendmail(
        Path::new(&other),
        "erin@shop.example",
        &php("contact-1").replace("wp-content/uploads/mailer.php", "contact.php"),
    );
    assert!(ok, "{err}");

    assert!(
        unlisted(d, &["hold", "release", "auth:bob@shop.example"])
            .status
            .success()
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        send("bob@shop.example", "pw-bob", "bob-2"),
        "a released mailbox was refused"
    );

    // Exim mails the refusal of a local submission back to its sender
    // (-oem, as for any sendmail caller without a terminal); that notice
    // goes to the sink too.
    sink.wait_for(4, Duration::from_secs(20));
    let mut subj = subjects(&sink);
    subj.sort();
    assert_eq!(
        subj,
        [
            "Mail failure - rejected by local scanning code",
            "bob-2",
            "carol-1",
            "contact-1"
        ]
    );
    let log = std::fs::read_to_string(exim.mainlog()).unwrap();
    assert!(
        log.contains("Sending as auth:bob@shop.example is suspended: password stolen"),
        "{log}"
    );
    assert!(
        log.contains("unlisted: frozen: held for review (auth:dave@shop.example)"),
        "{log}"
    );

    // The service stopped: readsocket fails and its DUNNO lets mail pass,
    // even for the script still held in the store.
    let _ = policy.0.kill();
    let _ = policy.0.wait();
    let (ok, err) = exim.try_sendmail(Path::new(&uploads), "erin@shop.example", &php("php-2"));
    assert!(ok, "mail stopped when the service was down: {err}");
    sink.wait_for(5, Duration::from_secs(20));
    assert!(subjects(&sink).contains(&"php-2".to_string()));
}

fn write_config(dir: &Path, text: &str) {
    std::fs::write(dir.join("unlisted.toml"), text).unwrap();
}

#[test]
fn real_postfix_keeps_a_held_senders_queued_mail_until_released() {
    use testsupport::SmtpSink;
    let dir = TempDir::new("pfqueue");
    let d = dir.path();
    let sent = [
        ("bob", "pw-bob", 2),
        ("carol", "pw-carol", 2),
        ("dave", "pw-dave", 2),
    ];
    let (pf, relay) = postfix_queue(d, &sent, "");

    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:bob@shop.example",
            "--reason",
            "spam run",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("queued mail: 2 held"), "{}", stdout(&o));
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:dave@shop.example",
            "--reason",
            "spam run",
        ],
    );
    assert!(stdout(&o).contains("queued mail: 2 held"), "{}", stdout(&o));

    let sink = SmtpSink::start_on(relay);
    pf.flush();
    sink.wait_for(2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let mut subj = subjects(&sink);
    subj.sort();
    assert_eq!(subj, ["carol-0", "carol-1"], "held mail left the queue");

    let o = unlisted(
        d,
        &["hold", "release", "auth:bob@shop.example", "--requeue"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("queued mail: 2 released"),
        "{}",
        stdout(&o)
    );
    let o = unlisted(
        d,
        &["hold", "release", "auth:dave@shop.example", "--delete"],
    );
    assert!(
        stdout(&o).contains("queued mail: 2 deleted"),
        "{}",
        stdout(&o)
    );
    pf.flush();
    sink.wait_for(4, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let mut subj = subjects(&sink);
    subj.sort();
    assert_eq!(subj, ["bob-0", "bob-1", "carol-0", "carol-1"]);
    let audit = json_lines(&unlisted(
        d,
        &["hold", "log", "--json", "auth:bob@shop.example"],
    ));
    let changes: Vec<&str> = audit
        .iter()
        .map(|a| a["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["queue", "released", "queue", "placed"]);
}

#[test]
fn real_exim_freezes_a_held_senders_queued_mail_until_released() {
    let dir = TempDir::new("eximqueue");
    let d = dir.path();
    let sent = [
        ("bob@shop.example", "pw-bob", 2),
        ("carol@shop.example", "pw-carol", 2),
        ("dave@shop.example", "pw-dave", 2),
    ];
    let (sink, exim) = exim_queue(d, &sent, "");
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:bob@shop.example",
            "--reason",
            "spam run",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("queued mail: 2 held"), "{}", stdout(&o));
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:dave@shop.example",
            "--reason",
            "spam run",
        ],
    );
    assert!(stdout(&o).contains("queued mail: 2 held"), "{}", stdout(&o));
    // Holding again finds them frozen already.
    let o = unlisted(
        d,
        &["hold", "add", "auth:bob@shop.example", "--reason", "still"],
    );
    assert!(
        stdout(&o).contains("queued mail: 0 held, 2 already held"),
        "{}",
        stdout(&o)
    );

    exim.run_queue_unfrozen();
    sink.wait_for(2, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let mut subj = subjects(&sink);
    subj.sort();
    assert_eq!(subj, ["carol-0", "carol-1"], "frozen mail left the queue");

    let o = unlisted(
        d,
        &["hold", "release", "auth:bob@shop.example", "--requeue"],
    );
    assert!(
        stdout(&o).contains("queued mail: 2 released"),
        "{}",
        stdout(&o)
    );
    let o = unlisted(
        d,
        &["hold", "release", "auth:dave@shop.example", "--delete"],
    );
    assert!(
        stdout(&o).contains("queued mail: 2 deleted"),
        "{}",
        stdout(&o)
    );
    exim.run_queue_unfrozen();
    sink.wait_for(4, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(1));
    let mut subj = subjects(&sink);
    subj.sort();
    assert_eq!(subj, ["bob-0", "bob-1", "carol-0", "carol-1"]);
}

#[test]
fn policy_service_keeps_its_holds_when_the_store_becomes_unreadable() {
    let dir = TempDir::new("policy-broken-store");
    let d = dir.path();
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:held@example.com",
            "--reason",
            "stolen",
            "--action",
            "reject",
        ],
    );
    assert!(o.status.success());
    let (child, port) = start_policy(d, "");
    let _guard = Kill(child);
    let mut s = connect(port);
    assert!(ask(&mut s, &request("held@example.com", "RCPT", "a", 0)).starts_with("action=REJECT"));
    // The store file is replaced by garbage (a bad disk, a botched restore).
    for f in ["unlisted.db", "unlisted.db-wal", "unlisted.db-shm"] {
        let _ = std::fs::remove_file(d.join(f));
    }
    std::fs::write(d.join("unlisted.db"), vec![0x55u8; 8192]).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // Still answering, from the holds it last loaded, on old and new
    // connections.
    assert!(ask(&mut s, &request("held@example.com", "RCPT", "b", 0)).starts_with("action=REJECT"));
    let mut fresh = connect(port);
    assert_eq!(
        ask(&mut fresh, &request("ok@example.com", "RCPT", "c", 0)),
        "action=DUNNO"
    );
    assert!(
        ask(&mut fresh, &request("held@example.com", "RCPT", "d", 0)).starts_with("action=REJECT")
    );
}

/// The queue as `status --json` gives the daemon's last count of it.
fn queue_count(d: &Path) -> serde_json::Value {
    json_lines(&unlisted(d, &["status", "--json"]))
        .into_iter()
        .find(|l| l["type"] == "queue")
        .map(|l| l["queue"].clone())
        .unwrap_or_default()
}

/// The daemon counts a real Postfix's queue: how many wait, in which of
/// its queues, and who sent them (the SMTP AUTH logins `postcat` shows);
/// at `alert_above` it alerts, once per `repeat_after`.
#[test]
fn the_daemon_counts_a_real_postfix_queue_and_alerts_when_it_is_full() {
    use testsupport::WebhookReceiver;
    let dir = TempDir::new("pfcount");
    let d = dir.path();
    let hook = WebhookReceiver::start();
    let sent = [("bob", "pw-bob", 4), ("carol", "pw-carol", 2)];
    let extra = format!(
        "alert_above = 5\n\n[alerts.webhook]\nurl = \"{}\"\n",
        hook.url
    );
    let _pf = postfix_queue(d, &sent, &extra);

    let o = unlisted(d, &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let q = queue_count(d);
    assert_eq!(
        (&q["total"], &q["held"], &q["sampled"]),
        (&6.into(), &0.into(), &6.into()),
        "{q}"
    );
    assert_eq!(q["by_queue"], serde_json::json!([["deferred", 6]]), "{q}");
    assert_eq!(
        q["senders"],
        serde_json::json!([["auth:bob@shop.example", 4], ["auth:carol@shop.example", 2]]),
        "{q}"
    );
    let o = unlisted(d, &["status"]);
    assert!(
        stderr(&o).contains("queue: 6 messages (0 held or frozen; deferred 6)")
            && stderr(&o).contains("most from auth:bob@shop.example 4"),
        "{}",
        stderr(&o)
    );
    let alerts = hook.wait_for(1, Duration::from_secs(5));
    let alert: serde_json::Value = serde_json::from_str(&alerts[0]).unwrap();
    assert_eq!(alert["type"], "queue", "{alert}");
    assert_eq!(alert["queue"]["total"], 6, "{alert}");
    // Still full at the next count: held back for repeat_after.
    let o = unlisted(d, &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(hook.bodies().len(), 1, "{:?}", hook.bodies());
    // The dashboard's overview shows it too.
    let auth = format!("Bearer {}", crate::web::token(&dir, "read"));
    let port = testsupport::free_tcp_port();
    let listen = format!("127.0.0.1:{port}");
    let _daemon = Kill(crate::spawn(d, &["serve", "--listen", &listen]));
    let page = wait_for(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).ok()?;
        let (st, _, page) = crate::web::http(port, "GET", "/", &[("Authorization", &auth)], "");
        (st == 200).then_some(page)
    })
    .expect("no dashboard");
    assert!(
        page.contains("Mail queue: 6 messages, 0 held or frozen")
            && page.contains("most from auth:bob@shop.example (4)"),
        "{page}"
    );
}

/// The same of a real Exim's spool, frozen messages told apart.
#[test]
fn the_daemon_counts_a_real_exim_queue_frozen_ones_apart() {
    let dir = TempDir::new("eximcount");
    let d = dir.path();
    let sent = [
        ("bob@shop.example", "pw-bob", 3),
        ("carol@shop.example", "pw-carol", 1),
    ];
    let _exim = exim_queue(d, &sent, "");
    let o = unlisted(
        d,
        &[
            "hold",
            "add",
            "auth:carol@shop.example",
            "--reason",
            "spam run",
        ],
    );
    assert!(stdout(&o).contains("queued mail: 1 held"), "{}", stdout(&o));

    let o = unlisted(d, &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let q = queue_count(d);
    assert_eq!((&q["total"], &q["held"]), (&4.into(), &1.into()), "{q}");
    assert_eq!(
        q["by_queue"],
        serde_json::json!([["frozen", 1], ["queued", 3]]),
        "{q}"
    );
    assert_eq!(
        q["senders"],
        serde_json::json!([["auth:bob@shop.example", 3], ["auth:carol@shop.example", 1]]),
        "{q}"
    );
}

/// A real Postfix whose relay does not answer, so all it takes stays
/// deferred; the config names its queue (`extra` after that), and each
/// of `sent` (local part, password, how many) has submitted through SMTP
/// AUTH (subjects `<local part>-<i>`). Returns it and its relay's port.
fn postfix_queue(
    d: &Path,
    sent: &[(&str, &str, usize)],
    extra: &str,
) -> (testsupport::Postfix, u16) {
    use testsupport::{Postfix, free_tcp_port, swaks};
    // Nothing listens on the relay port yet.
    let relay = free_tcp_port();
    let users: Vec<(&str, &str)> = sent.iter().map(|&(u, p, _)| (u, p)).collect();
    let pf = Postfix::start_with(relay, "shop.example", &users, "");
    write_config(
        d,
        &format!(
            "[enforce.queue]\nmta = \"postfix\"\npostfix_command_dir = \"{}\"\npostfix_config_dir = \"{}\"\n{extra}",
            pf.command_dir().display(),
            pf.config_dir().display()
        ),
    );
    for &(user, pw, n) in sent {
        for i in 0..n {
            assert!(swaks(
                pf.port,
                "127.0.0.1",
                Some((&format!("{user}@shop.example"), pw)),
                &format!("{user}@shop.example"),
                &["friend@dest.example"],
                &format!("{user}-{i}"),
            ));
        }
    }
    let total: usize = sent.iter().map(|s| s.2).sum();
    let deferred = wait_for(Duration::from_secs(20), || {
        let log = std::fs::read_to_string(pf.maillog()).ok()?;
        (log.matches("status=deferred").count() >= total).then_some(())
    });
    assert!(deferred.is_some(), "messages were not deferred");
    (pf, relay)
}

/// A real Exim keeping what it takes in its spool (`queue_only`) for a
/// queue run to its sink; the config names its queue (`extra` after
/// that), and each of `sent` (login, password, how many) has submitted
/// through SMTP AUTH (subjects `<local part>-<i>`).
fn exim_queue(
    d: &Path,
    sent: &[(&str, &str, usize)],
    extra: &str,
) -> (testsupport::SmtpSink, testsupport::Exim) {
    use testsupport::{Exim, SmtpSink, swaks};
    let sink = SmtpSink::start();
    let users: Vec<(&str, &str)> = sent.iter().map(|&(u, p, _)| (u, p)).collect();
    let exim = Exim::start_opts(sink.port, &users, true, "", "");
    write_config(
        d,
        &format!(
            "[enforce.queue]\nmta = \"exim\"\nexim = \"{}\"\nexim_config = \"{}\"\nexim_spool = \"{}\"\n{extra}",
            exim.binary().display(),
            exim.config().display(),
            exim.spool().display()
        ),
    );
    for &(user, pw, n) in sent {
        for i in 0..n {
            assert!(swaks(
                exim.port,
                "127.0.0.1",
                Some((user, pw)),
                user,
                &["friend@dest.example"],
                &format!("{}-{i}", &user[..user.find('@').unwrap()])
            ));
        }
    }
    exim.wait_arrivals(sent.iter().map(|s| s.2).sum(), Duration::from_secs(20));
    (sink, exim)
}
