//! `unlisted logs analyze` on crafted Exim and Postfix logs that have the
//! shapes of real attacks and of honest mail. Lines follow the formats in
//! ../shared/reference/mail-logs-and-enforcement.md; addresses are
//! documentation ranges and example domains.

use std::fmt::Write as _;
use std::io::Write as _;

use testsupport::TempDir;

use crate::{analyze_both_ways, json_lines, stderr, stdout, unlisted};

pub(crate) fn ts(base: i64, secs: i64) -> String {
    // 2024-05-01 00:00:00 + base + secs, written as Exim does.
    let t = base + secs;
    format!(
        "2024-05-01 {:02}:{:02}:{:02}",
        t / 3600 % 24,
        t / 60 % 60,
        t % 60
    )
}

pub(crate) fn exim_id(n: usize) -> String {
    format!(
        "1rK{:03}-000{:03}-{:02}",
        n % 1000,
        n / 1000 % 1000,
        n % 100
    )
}

/// A compromised mailbox: logins from 40 networks, a scraped list with a
/// third of the addresses dead, Gmail starting to push back.
pub(crate) fn compromised_mailbox(out: &mut String, base: i64) {
    for i in 0..300usize {
        let id = exim_id(i);
        let t = ts(base, i as i64 * 6);
        let ip = format!("203.0.{}.{}", i % 40, 10 + i % 7);
        let rcpt = format!("target{i}@domain{}.example", i % 53);
        writeln!(out, "{t} {id} <= info@shop.example H=(pc{i}) [{ip}]:5{i:04} P=esmtpsa X=TLS1.3 A=dovecot_plain:info@shop.example S=4200 id=x{i}@shop.example T=\"Invoice => overdue \\\"urgent\\\"\" for {rcpt}").unwrap();
        if i % 3 == 0 {
            writeln!(out, "{t} {id} ** {rcpt} R=dnslookup T=remote_smtp H=mx.domain.example [198.51.100.25]: SMTP error from remote mail server after RCPT TO:<{rcpt}>: 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown").unwrap();
        } else if i % 7 == 0 {
            writeln!(out, "{t} {id} == {rcpt} R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [198.51.100.26]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail").unwrap();
        } else {
            writeln!(out, "{t} {id} => {rcpt} R=dnslookup T=remote_smtp H=mx.domain.example [198.51.100.25] X=TLS1.3 C=\"250 2.0.0 OK queued\"").unwrap();
            writeln!(out, "{t} {id} Completed").unwrap();
        }
    }
}

/// A PHP mailer dropped in wp-content/uploads, submitting through sendmail
/// (cPanel log_selector: +arguments, no +pid), with Exim's own -Mc noise.
pub(crate) fn php_mailer(out: &mut String, base: i64) {
    php_mailer_in(
        out,
        base,
        "/home/bob/public_html/wp-content/uploads/2024/04",
    );
}

/// [`php_mailer`] run from `cwd`: 80 messages, one every 20 seconds.
pub(crate) fn php_mailer_in(out: &mut String, base: i64, cwd: &str) {
    for i in 0..80usize {
        let id = exim_id(500 + i);
        let t = ts(base, i as i64 * 20);
        writeln!(
            out,
            "{t} cwd={cwd} 4 args: /usr/sbin/sendmail -t -i -fwordpress@bob.example"
        )
        .unwrap();
        writeln!(out, "{t} {id} <= wordpress@bob.example U=bob P=local S=2100 T=\"Your parcel\" for r{i}@example.net").unwrap();
        writeln!(
            out,
            "{t} cwd=/var/spool/exim 3 args: /usr/sbin/exim -Mc {id}"
        )
        .unwrap();
        writeln!(
            out,
            "{t} {id} Sender identification U=bob D=bob.example S=wordpress@bob.example"
        )
        .unwrap();
        writeln!(out, "{t} {id} => r{i}@example.net R=dkim_lookuphost T=dkim_remote_smtp H=mx.example.net [198.51.100.30] C=\"250 OK\"").unwrap();
        writeln!(out, "{t} {id} Completed").unwrap();
    }
}

/// A shop's own contact form: a steady trickle to the owner's mailbox.
pub(crate) fn contact_form(out: &mut String, base: i64) {
    for i in 0..120usize {
        let id = exim_id(700 + i);
        let t = ts(base, i as i64 * 30);
        writeln!(
            out,
            "{t} cwd=/home/shop/public_html/contact 3 args: /usr/sbin/sendmail -t -i"
        )
        .unwrap();
        writeln!(out, "{t} {id} <= shop@shop.example U=shop P=local S=900 T=\"Contact form\" for owner@shop.example").unwrap();
        writeln!(out, "{t} {id} => owner <owner@shop.example> R=virtual_user T=dovecot_virtual_delivery C=\"250 2.0.0 <owner@shop.example> saved\"").unwrap();
        writeln!(out, "{t} {id} Completed").unwrap();
    }
}

fn analyze(dir: &TempDir, files: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let mut args = vec!["--json"];
    args.extend_from_slice(files);
    let o = analyze_both_ways(dir.path(), &args);
    let lines = json_lines(&o);
    (o, lines)
}

/// Sets `file`'s modification time to `date`: the year of its syslog
/// dates.
fn touch(dir: &TempDir, file: &str, date: &str) {
    let o = std::process::Command::new("touch")
        .args(["-d", date, file])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success());
}

fn sender<'a>(lines: &'a [serde_json::Value], s: &str) -> &'a serde_json::Value {
    lines
        .iter()
        .find(|l| l["sender"] == s)
        .unwrap_or_else(|| panic!("no sender {s} in {lines:#?}"))
}

/// An Exim main log as Exim writes it through syslog
/// (`log_file_path = syslog`): each line after `May  1 HH:MM:SS web
/// exim[PID]: `, with its own stamp or (`syslog_timestamp = false`)
/// without; lines over 870 characters split in parts as Exim splits them,
/// and dovecot's lines between.
fn through_syslog(main: &str, own_stamp: bool) -> String {
    // The tag's pid is the writing process's: a submission's `cwd=` and
    // `<=` lines share one, its delivery (`-Mc`) another.
    let lines: Vec<&str> = main.lines().collect();
    let id_of = |l: &str| {
        l.split(' ')
            .nth(2)
            .filter(|w| w.len() == 16)
            .map(str::to_string)
    };
    let pid = |l: &str, next: Option<&&str>| {
        let n = |id: &str| 10_000 + id.bytes().map(u32::from).sum::<u32>() * 2;
        if let Some(id) = l.split("-Mc ").nth(1) {
            return n(id) + 1;
        }
        if l[20..].starts_with("cwd=") {
            return next.and_then(|x| id_of(x)).map_or(1, |id| n(&id));
        }
        match id_of(l) {
            Some(id) if l.contains(" <= ") => n(&id),
            Some(id) => n(&id) + 1,
            None => 2,
        }
    };
    let mut out = String::new();
    for (i, l) in lines.iter().enumerate() {
        let head = format!(
            "May  1 {} web exim[{}]: ",
            &l[11..19],
            pid(l, lines.get(i + 1))
        );
        let text = if own_stamp { l } else { &l[20..] };
        if i % 7 == 0 {
            writeln!(
                out,
                "May  1 {} web dovecot[77]: imap-login: Login: user=<a@b.example>",
                &l[11..19]
            )
            .unwrap();
        }
        if text.len() <= 870 {
            writeln!(out, "{head}{text}").unwrap();
            continue;
        }
        let parts: Vec<&str> = text
            .as_bytes()
            .chunks(870)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        for (k, part) in parts.iter().enumerate() {
            writeln!(out, "{head}[{}/{}] {part}", k + 1, parts.len()).unwrap();
        }
    }
    out
}

#[test]
fn exim_through_syslog_gives_what_its_main_log_gives() {
    let dir = TempDir::new("logs-exim-syslog");
    let mut log = String::new();
    compromised_mailbox(&mut log, 0);
    php_mailer(&mut log, 3 * 3600);
    contact_form(&mut log, 5 * 3600);
    // A list mailing to 60 recipients a message: lines over 870
    // characters, which syslog gets in parts.
    for i in 0..20usize {
        let (t, id) = (ts(6 * 3600, i as i64 * 60), exim_id(900 + i));
        let rcpts: Vec<String> = (0..60)
            .map(|k| format!("member{k:02}.{i}@list.example"))
            .collect();
        writeln!(log, "{t} {id} <= news@shop.example H=(pc) [198.51.100.7]:4000 P=esmtpsa A=dovecot_login:news@shop.example S=9000 for {}", rcpts.join(" ")).unwrap();
        for r in &rcpts {
            writeln!(log, "{t} {id} => {r} R=dnslookup T=remote_smtp H=mx.list.example [198.51.100.9] C=\"250 OK\"").unwrap();
        }
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    dir.write("exim_mainlog", &log);
    let (_, main) = analyze(&dir, &["--all", "exim_mainlog"]);
    // Compared without the syslog head and Exim's stamp.
    fn bare(mut t: &str) -> &str {
        if t.starts_with("May  1 ")
            && let Some(i) = t.find("]: ")
        {
            t = &t[i + 3..];
        }
        if t.starts_with("2024-05-01 ") {
            t = &t[20..];
        }
        t
    }
    let senders = |lines: &[serde_json::Value]| crate::senders_stripped(lines, bare);
    assert_eq!(sender(&main, "auth:news@shop.example")["recipients"], 1200);
    for own_stamp in [true, false] {
        // The year of syslog dates is the file's.
        dir.write("maillog", &through_syslog(&log, own_stamp));
        touch(&dir, "maillog", "2024-05-02");
        let (o, lines) = analyze(&dir, &["--all", "maillog"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(senders(&lines), senders(&main), "own stamp: {own_stamp}");
        let summary = lines.last().unwrap();
        assert_eq!(summary["format"], "exim");
        assert_eq!(summary["not_understood"], 0, "{summary}");
        assert!(summary["ignored"].as_u64().unwrap() > 0);
        assert_eq!(summary["messages"], main.last().unwrap()["messages"]);
    }
}

#[test]
fn exim_attack_shapes_are_caught_and_the_contact_form_is_not() {
    let dir = TempDir::new("logs");
    let mut log = String::new();
    compromised_mailbox(&mut log, 0);
    php_mailer(&mut log, 3 * 3600);
    contact_form(&mut log, 5 * 3600);
    log.push_str("this line is not from exim\n");
    dir.write("exim_mainlog", &log);
    let (o, lines) = analyze(&dir, &["exim_mainlog"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));

    let mailbox = sender(&lines, "auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming");
    assert_eq!(mailbox["messages"], 300);
    // 280 distinct client IPs, counted by a sketch past 64: within 10%.
    let ips = mailbox["client_ips"].as_u64().unwrap();
    assert!((252..=308).contains(&ips), "{ips}");
    let codes: Vec<&str> = mailbox["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"bounce_ratio") && codes.contains(&"login_networks"),
        "{codes:?}"
    );

    let php = sender(
        &lines,
        "script:/home/bob/public_html/wp-content/uploads/2024/04",
    );
    assert_eq!(php["verdict"], "spamming");
    assert_eq!(php["account"], "bob");
    assert_eq!(php["reasons"][0]["code"], "script_location");

    let form = sender(&lines, "script:/home/shop/public_html/contact");
    assert_eq!(form["verdict"], "ok");
    assert_eq!(form["account"], "shop");

    // Spamming first, then the summary, which quotes the odd line.
    assert_eq!(lines[0]["verdict"], "spamming");
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["format"], "exim");
    assert_eq!(summary["not_understood"], 1);
    let last_line = format!("exim_mainlog:{}", log.lines().count());
    assert_eq!(
        summary["not_understood_samples"][0]["where"],
        last_line.as_str()
    );
    assert_eq!(summary["spamming"], 2);
    assert_eq!(summary["first"], "2024-05-01T00:00:00");
}

#[test]
fn postfix_newsletter_is_not_spamming_but_the_abused_form_is() {
    let dir = TempDir::new("logs");
    let mut log = String::new();
    // A newsletter: 3,000 recipients in an hour through SASL, 1% stale.
    for i in 0..3000usize {
        let q = format!("{:X}", 0xA00000 + i);
        let t = format!("May  1 10:{:02}:{:02}", i / 60 % 60, i % 60);
        writeln!(log, "{t} mx postfix/submission/smtpd[100]: {q}: client=office.shop.example[198.51.100.10], sasl_method=PLAIN, sasl_username=news@shop.example").unwrap();
        writeln!(
            log,
            "{t} mx postfix/cleanup[101]: {q}: message-id=<n{i}@shop.example>"
        )
        .unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q}: from=<news@shop.example>, size=30000, nrcpt=1 (queue active)").unwrap();
        let (dsn, status) = if i % 100 == 0 {
            (
                "5.1.1",
                "bounced (host mx[198.51.100.40] said: 550 5.1.1 user unknown (in reply to RCPT TO command))",
            )
        } else {
            ("2.0.0", "sent (250 2.0.0 Ok)")
        };
        writeln!(log, "{t} mx postfix/smtp[103]: {q}: to=<sub{i}@isp{}.example>, relay=mx.isp.example[198.51.100.40]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn={dsn}, status={status}", i % 300).unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q}: removed").unwrap();
    }
    // A contact form abused through PHP mail() (pickup uid 1005), Gmail
    // and Yahoo pushing back.
    for i in 0..250usize {
        let q = format!("{:X}", 0xB00000 + i);
        let t = format!("May  1 11:{:02}:{:02}", i / 10 % 60, i % 10 * 6);
        writeln!(
            log,
            "{t} mx postfix/pickup[200]: {q}: uid=1005 from=<wordpress@form.example>"
        )
        .unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q}: from=<wordpress@form.example>, size=1200, nrcpt=1 (queue active)").unwrap();
        let status = match i % 5 {
            0 => {
                "deferred (host gmail-smtp-in.l.google.com[198.51.100.50] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail (in reply to end of DATA command))"
            }
            1 => {
                "deferred (host mta5.am0.yahoodns.net[198.51.100.51] said: 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints (in reply to MAIL FROM command))"
            }
            _ => "sent (250 2.0.0 OK)",
        };
        writeln!(log, "{t} mx postfix/smtp[103]: {q}: to=<v{i}@gmail.example>, relay=mx.example[198.51.100.50]:25, delay=1, delays=0/0/0/1, dsn=4.7.28, status={status}").unwrap();
        if !status.starts_with("deferred") {
            writeln!(log, "{t} mx postfix/qmgr[102]: {q}: removed").unwrap();
        }
    }
    writeln!(
        log,
        "May  1 12:00:00 mx dovecot: imap-login: Login: user=<a@shop.example>"
    )
    .unwrap();
    writeln!(
        log,
        "May  1 12:00:00 mx postfix/smtpd[300]: connect from unknown[192.0.2.9]"
    )
    .unwrap();
    // The same log, gzipped, reads the same.
    let gz = dir.path().join("mail.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(log.as_bytes()).unwrap();
    enc.finish().unwrap();
    let (o, lines) = analyze(&dir, &["mail.log.gz"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let news = sender(&lines, "auth:news@shop.example");
    assert_ne!(news["verdict"], "spamming", "{news:#}");
    assert_eq!(news["messages"], 3000);
    let form = sender(&lines, "local:1005");
    assert_eq!(form["verdict"], "spamming", "{form:#}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["format"], "postfix");
    assert_eq!(summary["not_understood"], 0);
    assert_eq!(summary["ignored"], 1);
    assert_eq!(
        summary["incomplete"], 100,
        "deferred messages are still queued"
    );
    // Compressed with what logrotate's compresscmd may name instead, by
    // the real tools: each reads the same. A compression not read here is
    // an error naming the file, not lines of noise, and the files around
    // it are read whole.
    let senders = |lines: &[serde_json::Value]| -> Vec<serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["type"] == "sender")
            .cloned()
            .collect()
    };
    for (tool, name) in [
        ("xz", "mail.log.1.xz"),
        ("bzip2", "mail.log.1.bz2"),
        ("zstd", "mail.log.1.zst"),
        ("lz4", "mail.log.1.lz4"),
    ] {
        let plain = dir.write("mail.log.1", &log);
        let mut cmd = std::process::Command::new(tool);
        cmd.args(["-q", "-f", "-k"]).arg(&plain);
        if tool == "lz4" {
            // Off a terminal lz4 writes to stdout unless given a name.
            cmd.arg(dir.path().join(name));
        }
        let ok = cmd
            .status()
            .unwrap_or_else(|e| panic!("{tool}: {e}"))
            .success();
        assert!(ok, "{tool}");
        std::fs::remove_file(&plain).unwrap();
        let (o, got) = analyze(&dir, &[name]);
        if tool == "lz4" {
            // Alone: nothing could be read.
            assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
            assert!(got.is_empty(), "{got:#?}");
            assert!(
                stderr(&o).contains("cannot read mail.log.1.lz4: compressed with lz4"),
                "{}",
                stderr(&o)
            );
            // Beside a file that is read, that file's senders all come.
            let (o, both) = analyze(&dir, &["mail.log.1.lz4", "mail.log.gz"]);
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert_eq!(senders(&both), senders(&lines), "beside lz4");
            let errors = both.last().unwrap()["errors"].as_array().unwrap().clone();
            assert_eq!(errors.len(), 1, "{errors:#?}");
            assert_eq!(errors[0]["file"], "mail.log.1.lz4");
            assert!(
                errors[0]["error"]
                    .as_str()
                    .unwrap()
                    .contains("compressed with lz4"),
                "{errors:#?}"
            );
        } else {
            assert_eq!(o.status.code(), Some(1), "{tool}: {}", stderr(&o));
            assert_eq!(senders(&got), senders(&lines), "{tool}");
            assert_eq!(got.last().unwrap()["not_understood"], 0, "{tool}");
        }
    }
}

#[test]
fn quiet_server_is_clean_with_exit_0_and_human_output() {
    let dir = TempDir::new("logs");
    let mut log = String::new();
    for i in 0..5usize {
        let id = exim_id(900 + i);
        let t = ts(0, i as i64 * 3600);
        writeln!(log, "{t} {id} <= amy@example.org H=(laptop) [198.51.100.77]:50000 P=esmtpa A=dovecot_login:amy@example.org S=3000 T=\"Lunch?\" for friend{i}@example.net").unwrap();
        writeln!(log, "{t} {id} => friend{i}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.80] C=\"250 OK\"").unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    dir.write("mainlog", &log);
    let o = unlisted(dir.path(), &["logs", "analyze", "mainlog", "--all"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ok          auth:amy@example.org"), "{out}");
    assert!(out.contains("15 lines (15 understood, 0 ignored, 0 not understood); 5 messages; 1 sender: 0 spamming"), "{out}");
}

/// `logs analyze --json ARGS` with this machine's zone set to `tz`.
fn analyze_in(dir: &TempDir, tz: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(["logs", "analyze", "--json"])
        .args(args)
        .current_dir(dir.path())
        .env_remove("UNLISTED_CONFIG")
        .env("TZ", tz)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    json_lines(&o)
}

#[test]
fn wall_clock_logs_are_read_in_the_servers_zone_and_reported_in_utc() {
    // Exim writes the server's wall clock without an offset. In Chicago on
    // 1 May (summer time) that is five hours behind UTC, the clock of
    // listings and complaints.
    let dir = TempDir::new("zone");
    let mut log = String::new();
    php_mailer(&mut log, 0);
    dir.write("exim_mainlog", &log);
    let php = "script:/home/bob/public_html/wp-content/uploads/2024/04";
    let times = |lines: &[serde_json::Value]| {
        let s = sender(lines, php);
        let sum = lines.last().unwrap();
        assert_eq!(sum["type"], "summary");
        [
            s["first_seen"].clone(),
            s["last_seen"].clone(),
            sum["first"].clone(),
            sum["timezone"].clone(),
        ]
    };
    let (_, utc) = analyze(&dir, &["--timezone", "UTC", "exim_mainlog"]);
    assert_eq!(
        times(&utc),
        [
            "2024-05-01T00:00:00",
            "2024-05-01T00:26:20",
            "2024-05-01T00:00:00",
            "UTC"
        ]
    );
    let (_, chicago) = analyze(&dir, &["--timezone", "America/Chicago", "exim_mainlog"]);
    let expect = [
        "2024-05-01T05:00:00",
        "2024-05-01T05:26:20",
        "2024-05-01T05:00:00",
        "America/Chicago",
    ];
    assert_eq!(times(&chicago), expect);
    // The verdict does not depend on the clock.
    assert_eq!(
        sender(&chicago, php)["verdict"],
        sender(&utc, php)["verdict"]
    );
    // By default the machine's own zone, unless the config names one.
    assert_eq!(
        times(&analyze_in(&dir, "America/Chicago", &["exim_mainlog"])),
        expect
    );
    // A machine zone that cannot be told is said, and UTC assumed.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(["logs", "analyze", "--json", "exim_mainlog"])
        .current_dir(dir.path())
        .env("TZ", "Nowhere/Atlantis")
        .output()
        .unwrap();
    assert!(
        stderr(&o).contains("cannot tell this machine's time zone"),
        "{}",
        stderr(&o)
    );
    assert_eq!(times(&json_lines(&o))[3], "UTC");
    dir.write("unlisted.toml", "[ingest]\ntimezone = \"Europe/Berlin\"\n");
    let berlin = analyze_in(&dir, "America/Chicago", &["exim_mainlog"]);
    assert_eq!(
        times(&berlin),
        [
            "2024-04-30T22:00:00",
            "2024-04-30T22:26:20",
            "2024-04-30T22:00:00",
            "Europe/Berlin"
        ]
    );
    // Lines that carry their offset (Exim's log_timezone) are UTC once
    // read, whatever the zone.
    let zoned: String = log
        .lines()
        .map(|l| format!("{} -0500{}\n", &l[..19], &l[19..]))
        .collect();
    dir.write("zoned_mainlog", &zoned);
    let (_, z) = analyze(&dir, &["--timezone", "Asia/Tokyo", "zoned_mainlog"]);
    assert_eq!(times(&z)[..3], expect[..3]);
    // An unknown zone is an error, not a guess.
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "analyze",
            "--timezone",
            "Mars/Olympus",
            "exim_mainlog",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("unknown time zone \"Mars/Olympus\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_postfix_journal_export_is_read_with_its_offsets() {
    // `journalctl -u postfix -o short-iso` on a Debian without rsyslog:
    // older systemd writes the offset as +0100, newer as +01:00, and
    // short-iso-precise adds microseconds.
    let dir = TempDir::new("journal");
    let lines = [
        "2026-11-28T10:00:00+0100 mx postfix/submission/smtpd[2001]: connect from unknown[198.51.100.7]",
        "2026-11-28T10:00:01+0100 mx postfix/submission/smtpd[2001]: 4ABC123DEF: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=amy@example.org",
        "2026-11-28T10:00:01+01:00 mx postfix/cleanup[2002]: 4ABC123DEF: message-id=<1@example.org>",
        "2026-11-28T10:00:01.250000+01:00 mx postfix/qmgr[999]: 4ABC123DEF: from=<amy@example.org>, size=900, nrcpt=1 (queue active)",
        "2026-11-28T10:00:02.123456+0100 mx postfix/smtp[2003]: 4ABC123DEF: to=<f@example.net>, relay=mx.example.net[198.51.100.8]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 OK)",
        "2026-11-28T10:00:02+0100 mx postfix/qmgr[999]: 4ABC123DEF: removed",
    ];
    dir.write("postfix.journal", &(lines.join("\n") + "\n"));
    // The zone does not matter: every line says its offset.
    let (o, out) = analyze(
        &dir,
        &["--all", "--timezone", "Asia/Tokyo", "postfix.journal"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let sum = out.last().unwrap();
    assert_eq!(sum["not_understood"], 0, "{sum}");
    assert_eq!(sum["messages"], 1);
    let amy = sender(&out, "auth:amy@example.org");
    assert_eq!(amy["client_ips"], 1);
    assert_eq!(amy["first_seen"], "2026-11-28T09:00:01");
    assert_eq!(amy["last_seen"], "2026-11-28T09:00:02");
}

#[test]
fn unreadable_file_is_reported_and_the_rest_still_analyzed() {
    let dir = TempDir::new("logs");
    dir.write(
        "ok.log",
        "2024-05-01 00:00:00 1rK000-000000-00 <= a@example.org U=a P=local S=1 for b@example.net\n",
    );
    let (o, lines) = analyze(&dir, &["missing.log", "ok.log"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot open missing.log"),
        "{}",
        stderr(&o)
    );
    let summary = lines.last().unwrap();
    assert_eq!(summary["errors"][0]["file"], "missing.log");
    assert_eq!(summary["messages"], 1);
    let o = unlisted(dir.path(), &["logs", "analyze", "missing.log"]);
    assert_eq!(o.status.code(), Some(2));
}

/// The wrong file (a config file, a binary) is no clean server: an error
/// naming it, exit 2, its junk quoted with the escapes written out; a
/// syslog file with no MTA line is a warning, and a mail log with a few
/// junk lines is read as before.
#[test]
fn a_file_that_is_no_mail_log_is_an_error_not_a_clean_server() {
    let dir = TempDir::new("logs");
    // Terminal escapes and raw bytes, as a binary or a hostile file holds.
    let mut junk = b"# services\nsmtp 25/tcp mail\n".to_vec();
    junk.extend_from_slice(b"\x1b]0;owned\x07\x1b[2J\xc2\x9b31m\x00\x01\xff binary\n");
    std::fs::write(dir.path().join("services"), &junk).unwrap();
    let (o, lines) = analyze(&dir, &["services"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let summary = lines.last().unwrap();
    assert_eq!(summary["understood"], 0);
    assert_eq!(summary["errors"][0]["file"], "services");
    let err = summary["errors"][0]["error"].as_str().unwrap();
    assert!(
        err.contains("none of its 3 lines is an Exim or Postfix log line"),
        "{err}"
    );
    // For people: the error, and the junk with its controls written out.
    let o = unlisted(dir.path(), &["logs", "analyze", "services"]);
    assert_eq!(o.status.code(), Some(2));
    let said = stderr(&o);
    assert!(
        said.contains("error: services: none of its 3 lines"),
        "{said}"
    );
    assert!(
        said.contains("\\x1b]0;owned\\x07\\x1b[2J\\u{9b}31m\\x00\\x01"),
        "{said}"
    );
    for raw in [&o.stderr, &o.stdout] {
        assert!(
            !raw.iter().any(|&b| b == 0x1b || b == 0x07 || b == 0),
            "{said}"
        );
    }
    // Given as an Exim log, it is still none.
    let o = unlisted(
        dir.path(),
        &["logs", "analyze", "--format", "exim", "services"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is an Exim log line"), "{}", stderr(&o));
    // Nor does looking for a sender's mail in it find "none" quietly.
    let o = unlisted(dir.path(), &["logs", "messages", "--json", "services"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let summary = json_lines(&o).pop().unwrap();
    assert_eq!(summary["errors"][0]["file"], "services");

    // Other programs' syslog lines only: the MTA logs elsewhere.
    dir.write(
        "syslog",
        "May  1 00:00:00 web dovecot: imap-login: Login: user=<a@example.org>, rip=198.51.100.7\nMay  1 00:00:01 web CRON[42]: (root) CMD (true)\n",
    );
    let o = unlisted(dir.path(), &["logs", "analyze", "syslog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: none of the 2 lines read is an Exim or Postfix log line"),
        "{}",
        stderr(&o)
    );

    // A mail log with junk in it is a mail log.
    dir.write(
        "mainlog",
        "garbage\n2024-05-01 00:00:00 1rK000-000000-00 <= a@example.org U=a P=local S=1 for b@example.net\n",
    );
    let (o, lines) = analyze(&dir, &["mainlog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(lines.last().unwrap()["errors"], serde_json::json!([]));
}

/// Five days of an Exim log, written so that a run split across threads
/// has every chance to differ from one thread: submissions without `+pid`
/// whose `cwd=` lines interleave (the match is by order, across
/// messages that land in different shards), messages deferred once and
/// never heard of again (swept out as stale after three days, in the
/// middle of the run), connection lines, continuation lines, garbage
/// and a line cut in half.
#[test]
fn split_run_matches_one_thread_over_days_with_stale_messages() {
    let dir = TempDir::new("logs");
    let stamp = |secs: i64| {
        format!(
            "2024-05-{:02} {:02}:{:02}:{:02}",
            1 + secs / 86_400,
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60
        )
    };
    let mut log = String::new();
    let (mut messages, mut stuck, mut garbage) = (0u64, 0u64, 0u64);
    for n in 0..1440usize {
        let t = stamp(n as i64 * 300);
        let (a, b) = (exim_id(2 * n), exim_id(2 * n + 1));
        let (ua, ub) = (n % 40, (n + 7) % 40);
        // Two sendmail calls whose lines interleave.
        writeln!(
            log,
            "{t} cwd=/home/user{ua}/public_html/wp-content/uploads 3 args: /usr/sbin/sendmail -t -i"
        )
        .unwrap();
        writeln!(
            log,
            "{t} cwd=/home/user{ub}/public_html/contact 3 args: /usr/sbin/sendmail -t -i"
        )
        .unwrap();
        writeln!(log, "{t} {b} <= user{ub}@site.example U=user{ub} P=local S=900 T=\"Contact => form\" for r{n}@dest{}.example", n % 97).unwrap();
        writeln!(log, "{t} {a} <= user{ua}@site.example U=user{ua} P=local S=1200 T=\"Invoice\" for x{n}@dest{}.example", n % 13).unwrap();
        writeln!(
            log,
            "{t} cwd=/var/spool/exim 3 args: /usr/sbin/exim -Mc {a}"
        )
        .unwrap();
        messages += 2;
        if n % 9 == 0 {
            // Deferred once, then never a line again.
            writeln!(log, "{t} {a} == x{n}@dest{}.example R=dnslookup T=remote_smtp defer (-44) H=mx.example.net [203.0.113.5]: SMTP error from remote mail server after RCPT TO:<x{n}@dest.example>: 421 4.7.0 Try again later", n % 13).unwrap();
            stuck += 1;
        } else {
            writeln!(log, "{t} {a} => x{n}@dest{}.example R=dnslookup T=remote_smtp H=mx.example.net [203.0.113.5] C=\"250 OK\"", n % 13).unwrap();
            writeln!(log, "{t} {a} Completed").unwrap();
        }
        writeln!(log, "{t} {b} ** r{n}@dest{}.example R=dnslookup T=remote_smtp H=mx.example.net [203.0.113.6]: SMTP error from remote mail server after RCPT TO:<r{n}@dest.example>: 550 5.1.1 User unknown", n % 97).unwrap();
        writeln!(log, "{t} {b} Completed").unwrap();
        if n % 50 == 0 {
            writeln!(
                log,
                "{t} SMTP connection from [198.51.100.{}]:4000 lost",
                n % 200
            )
            .unwrap();
            writeln!(log, "{t} exim 4.96 daemon started: pid=1, no queue runs").unwrap();
            writeln!(log, "  Suggested action: use keep_environment.").unwrap();
            writeln!(log, "garbage {n} that is no log line").unwrap();
            writeln!(log, "{}", &format!("{t} {a} => cut")[..12]).unwrap();
            garbage += 2;
        }
    }
    dir.write("mainlog", &log);
    let o = analyze_both_ways(dir.path(), &["--json", "mainlog"]);
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["messages"].as_u64(), Some(messages), "{summary:#}");
    assert_eq!(summary["incomplete"].as_u64(), Some(stuck), "{summary:#}");
    assert_eq!(
        summary["not_understood"].as_u64(),
        Some(garbage),
        "{summary:#}"
    );
    assert_eq!(summary["not_understood_samples"][0]["where"], "mainlog:12");
    assert_eq!(summary["first"], "2024-05-01T00:00:00");
    assert_eq!(summary["last"], "2024-05-05T23:55:00");
    // The scripts in uploads were matched by order, each to its own line.
    let uploads = sender(&lines, "script:/home/user0/public_html/wp-content/uploads");
    assert_eq!(uploads["messages"], 36, "{uploads:#}");
    // And the human report agrees as well.
    analyze_both_ways(dir.path(), &["mainlog", "--all"]);
}

/// A line longer than a split run's read chunk (256 KiB), and a last line
/// without its newline, read the same on one thread and on three.
#[test]
fn split_run_reads_giant_lines_and_a_last_line_without_newline() {
    let dir = TempDir::new("logs");
    let mut log = String::new();
    for n in 0..3000usize {
        let (t, id) = (ts(0, n as i64), exim_id(n));
        writeln!(log, "{t} {id} <= a{}@example.org H=(x) [198.51.100.{}]:4000 P=esmtpa A=dovecot_login:a{}@example.org S=10 for r{n}@example.net", n % 7, n % 200, n % 7).unwrap();
        if n == 1500 {
            writeln!(log, "garbage {} and on", "x".repeat(600_000)).unwrap();
        }
        writeln!(log, "{t} {id} => r{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [203.0.113.5] C=\"250 OK\"").unwrap();
        write!(log, "{t} {id} Completed").unwrap();
        if n < 2999 {
            log.push('\n');
        }
    }
    dir.write("mainlog", &log);
    let o = analyze_both_ways(dir.path(), &["--json", "mainlog"]);
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["lines"], 9001, "{summary:#}");
    assert_eq!(summary["messages"], 3000);
    assert_eq!(summary["incomplete"], 0, "the last Completed counts");
    assert_eq!(summary["not_understood"], 1);
    assert_eq!(
        summary["not_understood_samples"][0]["where"],
        "mainlog:4502"
    );
}

/// Runs of NUL bytes with no newline (a crash leaves them in a log) and a
/// long line of junk: each is one line, read from its first MiB only, and
/// the messages around them are all there, one thread or three. The last
/// run has no newline at all.
#[test]
fn lines_longer_than_a_mib_are_cut_and_counted() {
    let dir = TempDir::new("logs");
    let mut log: Vec<u8> = Vec::new();
    for n in 0..2000usize {
        let (t, id) = (ts(0, n as i64), exim_id(n));
        writeln!(log, "{t} {id} <= a@example.org H=(x) [198.51.100.7]:4000 P=esmtpa A=dovecot_login:a@example.org S=10 for r{n}@example.net").unwrap();
        match n {
            500 => log.extend(std::iter::repeat_n(0u8, 5 << 20).chain([b'\n'])),
            1000 => writeln!(log, "{}", "junk ".repeat(300_000)).unwrap(),
            _ => {}
        }
        writeln!(log, "{t} {id} => r{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [203.0.113.5] C=\"250 OK\"").unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    log.extend(std::iter::repeat_n(0u8, 3 << 20));
    std::fs::write(dir.path().join("mainlog"), &log).unwrap();
    let o = analyze_both_ways(dir.path(), &["--json", "mainlog"]);
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["lines"], 6003, "{summary:#}");
    // The runs of NUL bytes are holes a crash leaves (nothing follows
    // them here); the junk is cut and not understood.
    assert_eq!(summary["cut_lines"], 1);
    assert_eq!(summary["holes"], 2);
    assert_eq!(summary["messages"], 2000);
    assert_eq!(summary["incomplete"], 0);
    assert_eq!(summary["not_understood"], 1);
    let samples = &summary["not_understood_samples"];
    assert_eq!(samples[0]["where"], "mainlog:3003");
    let human = unlisted(dir.path(), &["logs", "analyze", "mainlog"]);
    for said in [
        "1 line longer than 1024 KiB read from their first 1024 KiB only",
        "2 lines began with NUL bytes",
    ] {
        assert!(stderr(&human).contains(said), "{}", stderr(&human));
    }
}

/// Rotated logs as a shell lists `mainlog*` (the live file first, then
/// `.1` and `.2.gz`: newest first) are read oldest first, so the messages
/// that cross from one file into the next are whole: the report is the
/// one of the same lines in one file.
#[test]
fn rotated_files_given_newest_first_are_read_oldest_first() {
    let dir = TempDir::new("logs");
    let mut parts = [String::new(), String::new(), String::new()];
    let mut whole = String::new();
    for n in 0..900usize {
        let (t, id) = (ts(0, n as i64 * 20), exim_id(n));
        let lines = [
            format!(
                "{t} {id} <= a{}@example.org H=(x) [198.51.100.{}]:4000 P=esmtpa A=dovecot_login:a{}@example.org S=10 for r{n}@example.net",
                n % 5,
                n % 50,
                n % 5
            ),
            format!(
                "{t} {id} => r{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [203.0.113.5] C=\"250 OK\""
            ),
            format!("{t} {id} Completed"),
        ];
        for (k, l) in lines.iter().enumerate() {
            // Each file ends inside a message: its last lines are in the next.
            let part = (n * 3 + k) / 900;
            writeln!(parts[part], "{l}").unwrap();
            writeln!(whole, "{l}").unwrap();
        }
    }
    let gz = std::fs::File::create(dir.path().join("mainlog.2.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    enc.write_all(parts[0].as_bytes()).unwrap();
    enc.finish().unwrap();
    dir.write("mainlog.1", &parts[1]);
    dir.write("mainlog", &parts[2]);
    dir.write("one", &whole);
    let o = analyze_both_ways(
        dir.path(),
        &["--json", "mainlog", "mainlog.1", "mainlog.2.gz"],
    );
    let lines = json_lines(&o);
    let summary = lines.last().unwrap();
    assert_eq!(summary["reordered"], true);
    assert_eq!(
        summary["read_order"],
        serde_json::json!(["mainlog.2.gz", "mainlog.1", "mainlog"])
    );
    assert_eq!(summary["messages"], 900, "{summary:#}");
    assert_eq!(summary["orphan_lines"], 0);
    assert_eq!(summary["incomplete"], 0);
    let one = json_lines(&unlisted(dir.path(), &["logs", "analyze", "--json", "one"]));
    assert_eq!(lines[..lines.len() - 1], one[..one.len() - 1]);
    assert_eq!(one.last().unwrap()["reordered"], false);
    let human = unlisted(
        dir.path(),
        &["logs", "analyze", "mainlog", "mainlog.1", "mainlog.2.gz"],
    );
    assert!(
        stderr(&human).contains(
            "read the files oldest first (by their first lines): mainlog.2.gz, mainlog.1, mainlog"
        ),
        "{}",
        stderr(&human)
    );
}

/// `/var/log/exim_*` on a cPanel server gives the main log, the reject
/// log and the panic log. The last two copy main-log lines: read too,
/// they counted each refusal and failed login twice, and a reject log
/// starting after the main log made `--since` take the main log for an
/// older file and leave it unread.
#[test]
fn a_glob_of_exims_logs_reads_the_main_log_once() {
    let dir = TempDir::new("logs");
    let message = |id: &str, t: &str| {
        format!(
            "{t} {id} <= a@shop.example H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_login:a@shop.example S=100 for b@dest.example\n\
             {t} {id} => b@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [198.51.100.9] C=\"250 OK\"\n\
             {t} {id} Completed\n"
        )
    };
    let refusal = "2026-11-28 06:00:00 plain authenticator failed for (pc) [198.51.100.7]:41000: 535 Incorrect authentication data (set_id=a@shop.example)\n";
    let main = [
        message("1rA000-000001-01", "2026-11-28 00:00:01"),
        refusal.to_string(),
        message("1rA000-000002-01", "2026-11-28 12:00:01"),
    ]
    .concat();
    dir.write("exim_mainlog", &main);
    dir.write("exim_rejectlog", refusal);
    dir.write(
        "exim_paniclog",
        "2026-11-28 07:00:00 failed to open DB file /var/spool/exim/db/retry: Permission denied\n",
    );
    let glob = ["exim_mainlog", "exim_paniclog", "exim_rejectlog"];
    let mut args = vec!["--since", "2026-11-28 10:00"];
    args.extend(glob);
    let (o, lines) = analyze(&dir, &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = lines.last().unwrap();
    assert_eq!(summary["read_order"], serde_json::json!(["exim_mainlog"]));
    assert_eq!(summary["skipped_files"], serde_json::json!([]));
    assert_eq!(summary["messages"], 2, "{summary:#}");
    assert_eq!(summary["outside_window"], 1);
    assert_eq!(summary["failed_logins"]["failures"], 1, "{summary:#}");
    let left: Vec<&str> = (summary["copies_left_out"].as_array().unwrap().iter())
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    assert_eq!(left, ["exim_paniclog", "exim_rejectlog"]);
    assert_eq!(sender(&lines, "auth:a@shop.example")["messages"], 1);
    // The same without the copies, and the human output says what was
    // left out and how to read it.
    let (_, alone) = analyze(&dir, &["--since", "2026-11-28 10:00", "exim_mainlog"]);
    assert_eq!(lines[..lines.len() - 1], alone[..alone.len() - 1]);
    let mut human = vec!["logs", "analyze", "--all"];
    human.extend(glob);
    let out = stdout(&unlisted(dir.path(), &human));
    assert!(
        out.contains("not read: exim_rejectlog (Exim's reject log: each of its refusals is in the main log too; give it alone to read it)"),
        "{out}"
    );
}

/// cPanel: Exim writes exim_mainlog, Dovecot writes /var/log/maillog
/// through syslog. Given together, maillog is read first as a login log:
/// the IMAP guesses in it come before the SMTP login in Exim's log, and
/// the login is named for them, one thread or three.
#[test]
fn dovecots_own_log_beside_exims_names_a_login_after_imap_guesses() {
    let dir = TempDir::new("logs");
    imap_guesses_in_maillog(&dir);
    let login = |id: &str, t: &str| {
        format!(
            "2026-11-28 {t} {id} <= info@shop.example H=(pc) [203.0.113.9]:5000 P=esmtpsa A=dovecot_login:info@shop.example S=900 for a@dest.example\n\
             2026-11-28 {t} {id} => a@dest.example R=dnslookup T=remote_smtp H=mx.dest.example [198.51.100.20] C=\"250 OK\"\n\
             2026-11-28 {t} {id} Completed\n"
        )
    };
    // One login before the guesses, one after.
    let main = [
        login("1rA000-000001-01", "09:00:00"),
        login("1rA000-000002-01", "10:30:00"),
    ]
    .concat();
    dir.write("exim_mainlog", &main);
    let (o, lines) = analyze(&dir, &["--all", "exim_mainlog", "maillog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let summary = lines.last().unwrap();
    assert_eq!(summary["read_order"], serde_json::json!(["exim_mainlog"]));
    assert_eq!(summary["not_understood"], 0, "{summary:#}");
    assert_eq!(summary["login_logs"][0]["file"], "maillog", "{summary:#}");
    assert_eq!(summary["login_logs"][0]["lines"], 12);
    assert_eq!(summary["login_logs"][0]["failed_logins"], 12);
    assert_eq!(summary["failed_logins"]["failures"], 12, "{summary:#}");
    let mailbox = sender(&lines, "auth:info@shop.example");
    let reasons = mailbox["reasons"].to_string();
    assert!(
        reasons.contains("12 failed logins from 3 addresses"),
        "{mailbox:#}"
    );
    assert!(
        reasons.contains("imap-login"),
        "the guess quoted: {mailbox:#}"
    );
    // The messages: the first login had no guesses before it.
    assert_second_login_told_of_guesses(&dir, "exim_mainlog");
    let human = stdout(&unlisted(
        dir.path(),
        &["logs", "analyze", "exim_mainlog", "maillog"],
    ));
    assert!(
        human.contains("login log maillog: 12 lines, 12 failed logins (Dovecot's, kept for the logins after them)"),
        "{human}"
    );
    // Alone, its guesses are told, and there is no message.
    let alone = unlisted(dir.path(), &["logs", "analyze", "--json", "maillog"]);
    let alone = json_lines(&alone);
    let summary = alone.last().unwrap();
    assert_eq!(summary["failed_logins"]["failures"], 12, "{summary:#}");
    assert_eq!(summary["messages"], 0);
}

/// Dovecot's own syslog file (cPanel's /var/log/maillog): six logins of
/// another mailbox, and six IMAP sessions of two wrong passwords each for
/// info@shop.example from three addresses, 10:00 to 10:15 on 28 Nov.
fn imap_guesses_in_maillog(dir: &TempDir) {
    let mut maillog = String::new();
    for i in 0..6u32 {
        maillog += &format!(
            "Nov 28 10:{:02}:00 server dovecot[900]: imap-login: Login: user=<owner@site.example>, method=PLAIN, rip=192.0.2.50, lip=192.0.2.1, mpid=1{i}, session=<a{i}>\n",
            i * 3
        );
        maillog += &format!(
            "Nov 28 10:{:02}:30 server dovecot[900]: imap-login: Disconnected: Aborted login by logging out (auth failed, 2 attempts in 4 secs): user=<info@shop.example>, method=PLAIN, rip=198.51.100.{}, lip=192.0.2.1, session=<b{i}>\n",
            i * 3,
            i % 3 + 1
        );
    }
    dir.write("maillog", &maillog);
    // The year of syslog dates is the file's.
    touch(dir, "maillog", "2026-11-29");
}

/// `logs messages` of `main` and the maillog of [`imap_guesses_in_maillog`]:
/// of the two logins in `main`, at 09:00 and 10:30, the second is told of
/// the 12 guesses between them.
fn assert_second_login_told_of_guesses(dir: &TempDir, main: &str) {
    let o = unlisted(dir.path(), &["logs", "messages", "--json", main, "maillog"]);
    let msgs = json_lines(&o);
    assert_eq!(
        msgs[2]["login_logs"][0]["failed_logins"], 12,
        "{:#}",
        msgs[2]
    );
    let failed: Vec<_> = msgs[..2]
        .iter()
        .map(|m| m["failed_logins"]["count"].clone())
        .collect();
    assert_eq!(failed, [serde_json::Value::Null, serde_json::json!(12)]);
}

/// Postfix writing its own file (`maillog_file`, 3.4+) while Dovecot
/// logs through syslog: the syslog file is a login log beside it, as
/// beside Exim's.
#[test]
fn dovecots_own_log_beside_postfixs_names_a_login_after_imap_guesses() {
    let dir = TempDir::new("logs");
    imap_guesses_in_maillog(&dir);
    let mut main = String::new();
    for (q, t) in [("4AB0001", "09:00:00"), ("4AB0002", "10:30:00")] {
        writeln!(main, "Nov 28 {t} mx postfix/submission/smtpd[100]: {q}: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=info@shop.example").unwrap();
        writeln!(main, "Nov 28 {t} mx postfix/qmgr[101]: {q}: from=<info@shop.example>, size=900, nrcpt=1 (queue active)").unwrap();
        writeln!(main, "Nov 28 {t} mx postfix/smtp[102]: {q}: to=<a@dest.example>, relay=mx.dest.example[198.51.100.20]:25, delay=0.2, delays=0/0/0.1/0.1, dsn=2.0.0, status=sent (250 OK)").unwrap();
        writeln!(main, "Nov 28 {t} mx postfix/qmgr[101]: {q}: removed").unwrap();
    }
    dir.write("postfix.log", &main);
    touch(&dir, "postfix.log", "2026-11-29");
    assert_second_login_told_of_guesses(&dir, "postfix.log");
    let (o, lines) = analyze(&dir, &["--all", "postfix.log", "maillog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mailbox = sender(&lines, "auth:info@shop.example");
    assert!(
        mailbox["reasons"]
            .to_string()
            .contains("12 failed logins from 3 addresses"),
        "{mailbox:#}"
    );
}

/// A log from a pipe (`zcat old.gz | unlisted logs analyze /dev/stdin`)
/// is not read ahead to detect its format or its first time: every line
/// counts, one thread or three.
#[test]
fn a_pipe_loses_no_line() {
    let dir = TempDir::new("logs");
    let mut log = String::new();
    for n in 0..3000usize {
        let (t, id) = (ts(0, n as i64), exim_id(n));
        writeln!(
            log,
            "{t} {id} <= a@example.org U=a P=local S=10 for r{n}@example.net"
        )
        .unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    for threads in ["1", "3"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
            .args([
                "logs",
                "analyze",
                "--json",
                "--threads",
                threads,
                "/dev/stdin",
            ])
            .current_dir(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = log.clone();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let o = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        let lines = json_lines(&o);
        let summary = lines.last().unwrap();
        assert_eq!(summary["lines"], 6000, "{threads} threads: {summary:#}");
        assert_eq!(summary["messages"], 3000);
        assert_eq!(summary["orphan_lines"], 0);
    }
}

/// A .gz file corrupt in the middle: both ways of reading report it with
/// the file's name and the line after which it broke, keep the messages
/// read before it, and go on with the next file.
#[test]
fn corrupt_gz_mid_file_is_reported_and_the_lines_before_it_kept() {
    let dir = TempDir::new("logs");
    let mut log = String::new();
    for n in 0..20_000usize {
        let (t, id) = (ts(0, n as i64 / 10), exim_id(n));
        writeln!(log, "{t} {id} <= a{}@example.org H=(x) [198.51.100.{}]:4000 P=esmtpa A=dovecot_login:a{}@example.org S=10 for r{n}@example.net", n % 7, n % 200, n % 7).unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(log.as_bytes()).unwrap();
    let mut gz = enc.finish().unwrap();
    let mid = gz.len() / 2;
    for b in &mut gz[mid..mid + 64] {
        *b = !*b;
    }
    std::fs::write(dir.path().join("broken.log.gz"), &gz).unwrap();
    dir.write(
        "next.log",
        "2024-05-01 00:00:00 1rK999-000999-99 <= z@example.org U=z P=local S=1 for b@example.net\n",
    );
    for threads in ["1", "3"] {
        let o = unlisted(
            dir.path(),
            &[
                "logs",
                "analyze",
                "--json",
                "--threads",
                threads,
                "broken.log.gz",
                "next.log",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let lines = json_lines(&o);
        let summary = lines.last().unwrap();
        let err = summary["errors"][0]["error"].as_str().unwrap();
        assert!(
            err.starts_with("cannot read broken.log.gz after line "),
            "{err}"
        );
        let read: u64 = err["cannot read broken.log.gz after line ".len()..]
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(read > 1000 && read < 40_000, "{err}");
        // The lines before the break were read, and next.log after it.
        assert!(summary["lines"].as_u64().unwrap() >= read, "{summary:#}");
        assert!(summary["messages"].as_u64().unwrap() > 500, "{summary:#}");
        sender(&lines, "local:z");
    }
}

/// Forty days of a forwarding server's log: a new outside sender with
/// every message, and one mailbox that sends on the first day and again
/// on the thirtieth.
fn forty_days() -> String {
    let stamp = |secs: i64| {
        let day = secs / 86_400;
        let (month, d) = if day < 31 {
            (5, day + 1)
        } else {
            (6, day - 30)
        };
        format!(
            "2024-{month:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3600 % 24,
            secs / 60 % 60,
            secs % 60
        )
    };
    let mut log = String::new();
    let mut n = 0;
    // Each message goes to a forward of its own: 400 forwards, each
    // seen once (and the mailbox writing to one of them).
    let mut message = |log: &mut String, secs: i64, from: &str, via: &str, fwd: &str| {
        let (t, id) = (stamp(secs), exim_id(n));
        n += 1;
        writeln!(
            log,
            "{t} {id} <= {from} {via} S=2000 for {fwd}@local.example"
        )
        .unwrap();
        writeln!(log, "{t} {id} => real@gmail.example <{fwd}@local.example> R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [198.51.100.27] C=\"250 2.0.0 OK\"").unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    };
    let mailbox = "H=(pc) [203.0.113.5]:50000 P=esmtpsa A=dovecot_login:back@shop.example";
    for day in 0..40i64 {
        if day == 0 || day == 29 {
            for k in 0..5 {
                message(
                    &mut log,
                    day * 86_400 + 100 + k,
                    "back@shop.example",
                    mailbox,
                    "fwd",
                );
            }
        }
        for k in 0..10i64 {
            let i = day * 10 + k;
            // Documentation addresses, 400 of them.
            let net = if i < 200 { "192.0.2" } else { "198.51.100" };
            let via = format!("H=mx{i}.outside.example [{net}.{}]:25 P=esmtps", i % 200);
            let from = format!("s{i}@outside{i}.example");
            let fwd = format!("fwd{i}");
            message(&mut log, day * 86_400 + 3600 + k * 600, &from, &via, &fwd);
        }
    }
    log
}

#[test]
fn senders_silent_for_weeks_wait_on_disk_and_come_back_whole() {
    let dir = TempDir::new("logs");
    std::fs::write(dir.path().join("mainlog"), forty_days()).unwrap();
    let scratch = dir.path().join("tmp");
    std::fs::create_dir(&scratch).unwrap();
    let run = |tmp: &std::path::Path, threads: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
            .args(["logs", "analyze", "--json", "--threads", threads, "mainlog"])
            .current_dir(dir.path())
            .env("TMPDIR", tmp)
            .env_remove("UNLISTED_CONFIG")
            .output()
            .unwrap()
    };
    let out = run(&scratch, "1");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&run(&scratch, "3")), stdout(&out));
    let lines = json_lines(&out);
    let summary = lines.last().unwrap();
    assert_eq!(summary["senders"], 401);
    // Outside senders of all but the last eleven days or so.
    let retired = summary["retired_senders"].as_u64().unwrap();
    assert!((250..=300).contains(&retired), "{summary}");
    // The mailbox went to disk after the first day and came back.
    let back = sender(&lines, "auth:back@shop.example");
    assert_eq!(back["messages"], 10);
    assert!(
        back["first_seen"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-01")
    );
    assert!(
        back["last_seen"]
            .as_str()
            .unwrap()
            .starts_with("2024-05-30")
    );
    // Nothing left behind in the scratch directory.
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);

    // No scratch directory: a warning, every sender in memory, the same
    // report.
    let none = run(&dir.path().join("missing"), "1");
    assert_eq!(none.status.code(), Some(0));
    assert!(stderr(&none).contains("scratch file"), "{}", stderr(&none));
    let mut want = lines.clone();
    want.last_mut().unwrap()["retired_senders"] = 0.into();
    assert_eq!(json_lines(&none), want);
}

/// A Postfix server with amavis as its content filter (Postfix's
/// `content_filter`: every message goes to 127.0.0.1:10024 and comes back
/// through 127.0.0.1:10025 under a new queue id), a stolen mailbox
/// sending 90 messages through it, a third of them to dead addresses.
/// amavis itself is not installed here: these lines follow the shape its
/// re-injection logs.
pub(crate) fn through_amavis() -> String {
    let mut log = String::new();
    for i in 0..90usize {
        let (q1, q2) = (format!("{:X}", 0xC00000 + i), format!("{:X}", 0xD00000 + i));
        let t = format!("May  1 12:{:02}:{:02}", i / 3 % 60, i % 3 * 20);
        let rcpt = format!("r{i}@dest{}.example", i % 40);
        // The stolen mailbox submits from its thief's address...
        writeln!(log, "{t} mx postfix/submission/smtpd[100]: {q1}: client=unknown[203.0.113.{}], sasl_method=LOGIN, sasl_username=info@shop.example", 10 + i % 30).unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q1}: from=<info@shop.example>, size=4000, nrcpt=1 (queue active)").unwrap();
        // ... amavis takes it and queues it again ...
        writeln!(
            log,
            "{t} mx postfix/smtpd[300]: {q2}: client=localhost[127.0.0.1]"
        )
        .unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q2}: from=<info@shop.example>, size=4600, nrcpt=1 (queue active)").unwrap();
        writeln!(log, "{t} mx postfix/smtp[301]: {q1}: to=<{rcpt}>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.4, delays=0.1/0/0/0.3, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {q2})").unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q1}: removed").unwrap();
        // ... and the copy meets the world: a third of the list is dead.
        let status = if i % 3 == 0 {
            "bounced (host mx.dest.example[198.51.100.40] said: 550 5.1.1 user unknown (in reply to RCPT TO command))"
        } else {
            "sent (250 2.0.0 Ok)"
        };
        writeln!(log, "{t} mx postfix/smtp[302]: {q2}: to=<{rcpt}>, relay=mx.dest.example[198.51.100.40]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status={status}").unwrap();
        writeln!(log, "{t} mx postfix/qmgr[102]: {q2}: removed").unwrap();
    }
    log
}

#[test]
fn mail_through_a_content_filter_stays_its_senders() {
    let dir = TempDir::new("logs");
    let log = through_amavis();
    std::fs::write(dir.path().join("maillog"), log).unwrap();
    let (out, lines) = analyze(&dir, &["--format", "postfix", "maillog"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mailbox = sender(&lines, "auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert_eq!(
        (mailbox["messages"].as_u64(), mailbox["bounced"].as_u64()),
        (Some(90), Some(30))
    );
    assert_eq!(mailbox["client_ips"], 30);
    // The filter's re-injection is nobody's sending.
    let senders: Vec<&str> = lines.iter().filter_map(|l| l["sender"].as_str()).collect();
    assert_eq!(senders, ["auth:info@shop.example"], "{lines:#?}");
    // Postfix logs no account for a mailbox: the control panel's domain
    // owners give it (here in cPanel's /etc/userdomains form).
    assert_eq!(mailbox["account"], serde_json::Value::Null);
    dir.write("owners", "shop.example: carol\n*: nobody\n");
    dir.write("unlisted.toml", "[enforce]\nuserdomains = \"owners\"\n");
    let (_, lines) = analyze(&dir, &["--format", "postfix", "maillog"]);
    assert_eq!(sender(&lines, "auth:info@shop.example")["account"], "carol");
}

#[test]
fn logs_analyze_reads_exim_from_the_journal() {
    // Exim through syslog into journald (a systemd host without rsyslog):
    // its entries keep Exim's own stamp, in the server's wall-clock time
    // (Chicago's here, six hours behind UTC in November), and a long line
    // comes in parts, one entry each.
    let dir = TempDir::new("analyze-journal-exim");
    let start = 1_764_324_000; // 2025-11-28 10:00:00 UTC
    let mut entries = Vec::new();
    for i in 0..40usize {
        let at = start + i as i64 * 30;
        let t = maillog::Stamp {
            secs: at - 6 * 3600,
            millis: 0,
        }
        .iso()
        .replace('T', " ");
        let id = exim_id(i);
        let pid = 5000 + i as u32 * 2;
        let rcpts: Vec<String> = (0..50)
            .map(|k| format!("r{k:02}.{i}@example.net"))
            .collect();
        let arrival = format!(
            "{t} {id} <= bad@shop.example H=(pc) [198.51.100.{i}]:4000 P=esmtpsa A=dovecot_login:bad@shop.example S=900 for {}",
            rcpts.join(" ")
        );
        let (a, b) = arrival.split_at(870);
        entries.push((at, "exim", pid, format!("[1/2] {a}")));
        entries.push((at, "exim", pid, format!("[2/2] {b}")));
        for r in &rcpts[..25] {
            entries.push((at, "exim", pid + 1, format!("{t} {id} ** {r} R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8]: SMTP error from remote mail server after RCPT TO:<{r}>: 550 5.1.1 User unknown")));
        }
        for r in &rcpts[25..] {
            entries.push((at, "exim", pid + 1, format!("{t} {id} => {r} R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"")));
        }
        entries.push((at, "exim", pid + 1, format!("{t} {id} Completed")));
    }
    crate::ingest::journal_append_unit(&dir, "exim4.service", &entries);
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "analyze",
            "--json",
            "--timezone",
            "America/Chicago",
            "--journal",
            "exim4*",
            "--journal-directory",
            "journal",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = json_lines(&o);
    let bad = sender(&out, "auth:bad@shop.example");
    assert_eq!(bad["verdict"], "spamming", "{bad}");
    assert_eq!(bad["messages"], 40);
    assert_eq!(bad["recipients"], 2000);
    assert_eq!(bad["bounced"], 1000);
    assert_eq!(bad["first_seen"], "2025-11-28T10:00:00");
    let sum = out.last().unwrap();
    assert_eq!(sum["format"], "exim");
    assert_eq!(sum["not_understood"], 0, "{sum}");
}

/// `logs analyze --json` of the Postfix units in `journal/`.
const JOURNAL_ANALYZE: [&str; 7] = [
    "logs",
    "analyze",
    "--json",
    "--journal",
    "postfix*",
    "--journal-directory",
    "journal",
];

/// journald drops a unit's lines past its rate limit (10,000 in 30 s by
/// default: a spam run trips it) and says so in an entry of its own, which
/// `journalctl --unit` gives with the unit's. The counts are short by
/// those lines: the summary says how many, and people are told why.
#[test]
fn lines_journald_dropped_are_counted_and_told() {
    let dir = TempDir::new("analyze-journal-dropped");
    let start = 1_764_324_000; // 2025-11-28 10:00:00 UTC
    let mut entries = Vec::new();
    for i in 0..4usize {
        entries.extend(crate::ingest::postfix_entries(
            start + i as i64 * 30,
            &format!("4E{i:08X}"),
            "news@shop.example",
            &format!("r{i}@example.net"),
            false,
            true,
        ));
    }
    let mut export = crate::ingest::unit_export("postfix@-.service", &entries);
    for (at, n) in [(200, 1234), (201, 77)] {
        let notice = crate::ingest::journald_dropped(n, "postfix@-.service");
        export.push_str(&crate::ingest::export_entry(start + at, &notice));
    }
    crate::ingest::journal_write(&dir, &export);
    let args = JOURNAL_ANALYZE;
    let o = unlisted(dir.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = json_lines(&o);
    let sum = out.last().unwrap();
    assert_eq!(sum["dropped"], 1311, "{sum}");
    assert_eq!(sum["messages"], 4, "{sum}");
    assert_eq!(sum["not_understood"], 0, "{sum}");
    // For people.
    let human: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let o = unlisted(dir.path(), &human);
    assert!(
        stderr(&o).contains("warning: journald dropped 1311 of the MTA's lines"),
        "{}",
        stderr(&o)
    );

    // Looking for a sender's mail there says so too.
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "messages",
            "--journal",
            "postfix*",
            "--journal-directory",
            "journal",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("journald dropped 1311"),
        "{}",
        stderr(&o)
    );

    // A file of journald's notices for other units drops no mail.
    dir.write(
        "syslog",
        "Nov 28 10:00:00 mx systemd-journald[310]: Suppressed 500 messages from nginx.service\nNov 28 10:00:01 mx postfix/qmgr[999]: 4E00000001: removed\n",
    );
    let (_, lines) = analyze(&dir, &["syslog"]);
    assert_eq!(lines.last().unwrap()["dropped"], 0);
}

#[test]
fn logs_analyze_reads_postfix_from_the_journal() {
    // Where Postfix logs only to the journal: `--journal` instead of files
    // (real journal files, written by systemd-journal-remote, read by
    // journalctl).
    let dir = TempDir::new("analyze-journal");
    let start = 1_764_324_000; // 2025-11-28 10:00:00 UTC
    let mut entries = Vec::new();
    for i in 0..40usize {
        entries.extend(crate::ingest::postfix_entries(
            start + i as i64 * 30,
            &format!("4E{i:08X}"),
            "bad@shop.example",
            &format!("r{i}@example.net"),
            i % 2 == 0,
            true,
        ));
    }
    crate::ingest::journal_append(&dir, &entries);
    let args = JOURNAL_ANALYZE;
    let o = unlisted(dir.path(), &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = json_lines(&o);
    let bad = sender(&out, "auth:bad@shop.example");
    assert_eq!(bad["verdict"], "spamming", "{bad}");
    assert_eq!(bad["messages"], 40);
    assert_eq!(bad["bounced"], 20);
    assert_eq!(bad["first_seen"], "2025-11-28T10:00:00");
    let sum = out.last().unwrap();
    assert_eq!(sum["read_order"], serde_json::json!(["journal:postfix*"]));
    assert_eq!(sum["not_understood"], 0, "{sum}");
    // From a time on (on this machine's clock: the helpers set UTC),
    // and up to one.
    let mut since = args.to_vec();
    since.extend(["--since", "2025-11-28 10:10:00"]);
    let out = json_lines(&unlisted(dir.path(), &since));
    assert_eq!(sender(&out, "auth:bad@shop.example")["messages"], 20);
    since.extend(["--until", "2025-11-28T10:15:00Z"]);
    let out = json_lines(&unlisted(dir.path(), &since));
    assert_eq!(sender(&out, "auth:bad@shop.example")["messages"], 10);
    assert_eq!(out.last().unwrap()["until"], "2025-11-28T10:15:00");
    // Files and the journal at once are refused.
    let o = unlisted(
        dir.path(),
        &["logs", "analyze", "--journal", "postfix*", "mail.log"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A journal that cannot be read is an error, not a quiet server.
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "analyze",
            "--journal",
            "postfix*",
            "--journal-directory",
            "nowhere",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("journal:postfix*: journalctl failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_time_window_counts_its_messages_and_leaves_files_outside_it_unread() {
    // "Is it spamming right now?" on a server whose rotated logs hold
    // an old compromise: --since/--until count the messages received in
    // the window; a rotated file wholly outside it is not read (its
    // garbage line would otherwise be counted).
    let dir = TempDir::new("logs-window");
    let (mut old, mut mid, mut new) = (String::new(), String::new(), String::new());
    compromised_mailbox(&mut old, 0); // 00:00-00:30
    old.push_str("garbage in the oldest file\n");
    contact_form(&mut mid, 7200); // 02:00-03:00, one every 30 s
    php_mailer(&mut new, 14_400); // 04:00-04:27
    new.push_str("garbage in the live file\n");
    dir.write("mainlog.2", &old);
    dir.write("mainlog.1", &mid);
    dir.write("mainlog", &new);
    let files = ["mainlog", "mainlog.1", "mainlog.2"];
    let run = |window: &[&str]| {
        let mut args = vec!["--json"];
        args.extend_from_slice(window);
        args.extend_from_slice(&files);
        let o = analyze_both_ways(dir.path(), &args);
        (o.status.code(), json_lines(&o))
    };
    let php = "script:/home/bob/public_html/wp-content/uploads/2024/04";
    let has = |out: &[serde_json::Value], s: &str| out.iter().any(|l| l["sender"] == s);

    let (code, out) = run(&["--since", "2024-05-01 02:30"]);
    assert_eq!(code, Some(1));
    let sum = out.last().unwrap();
    assert_eq!(
        sum["skipped_files"],
        serde_json::json!(["mainlog.2"]),
        "{sum}"
    );
    assert_eq!(
        sum["read_order"],
        serde_json::json!(["mainlog.1", "mainlog"])
    );
    assert_eq!(
        sum["not_understood"], 1,
        "only the live file's garbage: {sum}"
    );
    assert_eq!(sum["since"], "2024-05-01T02:30:00");
    assert_eq!(sum["until"], serde_json::Value::Null);
    assert_eq!(sum["outside_window"], 60, "the form's first hour: {sum}");
    assert!(!has(&out, "auth:info@shop.example"));
    assert_eq!(sender(&out, php)["verdict"], "spamming");
    assert_eq!(sender(&out, php)["messages"], 80);
    let form = "script:/home/shop/public_html/contact";
    assert_eq!(sender(&out, form)["messages"], 60);
    assert_eq!(sender(&out, form)["first_seen"], "2024-05-01T02:30:00");

    let (code, out) = run(&["--until", "2024-05-01 02:30"]);
    assert_eq!(code, Some(1));
    let sum = out.last().unwrap();
    assert_eq!(
        sum["skipped_files"],
        serde_json::json!(["mainlog"]),
        "{sum}"
    );
    assert_eq!(sum["not_understood"], 1, "only the oldest file's garbage");
    assert_eq!(
        sender(&out, "auth:info@shop.example")["verdict"],
        "spamming"
    );
    assert_eq!(sender(&out, form)["messages"], 60);
    assert!(!has(&out, php));

    // A quiet half hour between the form and the mailer.
    let (code, out) = run(&["--since", "2024-05-01 03:30", "--until", "2024-05-01 04:00"]);
    assert_eq!(code, Some(0));
    let sum = out.last().unwrap();
    assert_eq!(
        sum["skipped_files"],
        serde_json::json!(["mainlog.2", "mainlog"]),
        "{sum}"
    );
    assert_eq!(
        (sum["senders"].clone(), sum["outside_window"].clone()),
        (0.into(), 120.into())
    );

    // The human summary says what was left out.
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "analyze",
            "--since",
            "2024-05-01 02:30",
            "mainlog",
            "mainlog.1",
            "mainlog.2",
        ],
    );
    assert!(
        stdout(&o).contains("counted the messages received 2024-05-01T02:30:00 .. (end) UTC; 60 outside were read and left out; 1 file wholly outside not read: mainlog.2"),
        "{}",
        stdout(&o)
    );
    // Nonsense, and a window that ends before it starts, are refused.
    for bad in [
        &["--since", "soon"][..],
        &["--since", "2024-05-01 04:00", "--until", "2024-05-01 03:00"],
    ] {
        let mut args = vec!["logs", "analyze"];
        args.extend_from_slice(bad);
        args.push("mainlog");
        let o = unlisted(dir.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("--since") || stderr(&o).contains("cannot read the time \"soon\""),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn since_a_span_back_counts_from_now() {
    // `--since 1h`: a burst three hours ago is left out, the last
    // half hour's mail is counted. Times are written from this moment.
    let dir = TempDir::new("logs-since-span");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let stamp = |secs: i64| {
        let o = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%F %T"])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    let mut log = String::new();
    for (n, back) in [
        (0usize, 3 * 3600),
        (1, 3 * 3600 - 60),
        (2, 1800),
        (3, 1200),
        (4, 600),
    ] {
        let (t, id) = (stamp(now - back), exim_id(n));
        writeln!(log, "{t} {id} <= a@example.org H=(x) [198.51.100.7]:4000 P=esmtpa A=dovecot_login:a@example.org S=10 for r{n}@example.net").unwrap();
        writeln!(log, "{t} {id} => r{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [203.0.113.5] C=\"250 OK\"").unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    dir.write("mainlog", &log);
    // Each run reads the clock itself, so the two runs' `since` may be a
    // second apart: both must be an hour before some moment of this test,
    // and the rest must agree byte for byte.
    let run = |threads: &str| {
        let o = unlisted(
            dir.path(),
            &[
                "logs",
                "analyze",
                "--threads",
                threads,
                "--json",
                "--all",
                "--since",
                "1h",
                "mainlog",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut out = json_lines(&o);
        let since = out.last_mut().unwrap()["since"].take();
        (out, since)
    };
    let ((one, since_one), (out, since_three)) = (run("1"), run("3"));
    assert_eq!(one, out, "one thread and three disagree");
    let later = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let hour_back: Vec<String> = (now..=later)
        .map(|t| stamp(t - 3600).replace(' ', "T"))
        .collect();
    for since in [since_one, since_three] {
        assert!(
            hour_back.iter().any(|h| since == h.as_str()),
            "{since} is not an hour before the run ({hour_back:?})"
        );
    }
    assert_eq!(
        sender(&out, "auth:a@example.org")["messages"],
        3,
        "{out:#?}"
    );
    assert_eq!(out.last().unwrap()["outside_window"], 2);
}

/// `unlisted logs messages ARGS` with --json: the messages, and the
/// summary last.
fn messages(dir: &TempDir, args: &[&str]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut all = vec!["logs", "messages", "--json"];
    all.extend_from_slice(args);
    let o = unlisted(dir.path(), &all);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut lines = json_lines(&o);
    let summary = lines.pop().unwrap();
    assert_eq!(summary["type"], "summary");
    assert!(lines.iter().all(|m| m["type"] == "message"));
    assert_eq!(summary["shown"], lines.len());
    (lines, summary)
}

#[test]
fn logs_messages_shows_what_a_sender_sent() {
    // After "who": what it sent, message by message (exigrep's job), with
    // the subject, each recipient's fate and the remote replies.
    let dir = TempDir::new("logs-messages");
    let mut log = String::new();
    compromised_mailbox(&mut log, 0);
    php_mailer(&mut log, 3600);
    contact_form(&mut log, 7200);
    dir.write("mainlog", &log);

    let (msgs, sum) = messages(&dir, &["--sender", "auth:info@shop.example", "mainlog"]);
    assert_eq!(msgs.len(), 300);
    assert_eq!(
        (sum["matched"].clone(), sum["messages"].clone()),
        (300.into(), 500.into())
    );
    let first = &msgs
        .iter()
        .find(|m| m["id"] == exim_id(0).as_str())
        .unwrap();
    assert_eq!(
        first["subject"], "Invoice => overdue \"urgent\"",
        "{first:#}"
    );
    assert_eq!(first["client_ip"], "203.0.0.10");
    assert_eq!(first["received"], "2024-05-01T00:00:00");
    let r = &first["recipients"][0];
    assert_eq!(
        (r["address"].as_str(), r["outcome"].as_str()),
        (Some("target0@domain0.example"), Some("bounced"))
    );
    assert!(r["reply"].as_str().unwrap().contains("550 5.1.1"), "{r}");
    let deferred = msgs
        .iter()
        .find(|m| m["id"] == exim_id(7).as_str())
        .unwrap();
    assert_eq!(deferred["recipients"][0]["outcome"], "deferred");
    assert!(
        deferred["recipients"][0]["reply"]
            .as_str()
            .unwrap()
            .contains("4.7.28")
    );
    // A bare address finds it too; a script directory takes the scripts
    // below it; an account, a recipient and an id narrow it down.
    assert_eq!(
        messages(&dir, &["--sender", "INFO@shop.example", "mainlog"]).1["matched"],
        300
    );
    let (php, _) = messages(
        &dir,
        &["--sender", "script:/home/bob/public_html", "mainlog"],
    );
    assert_eq!(php.len(), 80);
    assert_eq!(
        php[0]["attribution"]["cwd"],
        "/home/bob/public_html/wp-content/uploads/2024/04"
    );
    assert_eq!(php[0]["account"], "bob");
    assert_eq!(
        messages(&dir, &["--account", "bob", "mainlog"]).1["matched"],
        80
    );
    let (one, _) = messages(&dir, &["--recipient", "R5@example.NET", "mainlog"]);
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["id"], exim_id(505).as_str());
    let (one, _) = messages(&dir, &["--id", &exim_id(505), "mainlog"]);
    assert_eq!(one[0]["subject"], "Your parcel");
    // Both filters must hold: bob sent nothing to the shop's owner.
    let (none, sum) = messages(
        &dir,
        &[
            "--account",
            "bob",
            "--recipient",
            "owner@shop.example",
            "mainlog",
        ],
    );
    assert!(none.is_empty());
    assert_eq!(sum["matched"], 0);
    // A window, and a limit that still counts every match.
    let (win, sum) = messages(
        &dir,
        &[
            "--sender",
            "info@shop.example",
            "--since",
            "2024-05-01 00:10",
            "--until",
            "2024-05-01 00:20",
            "--limit",
            "5",
            "mainlog",
        ],
    );
    assert_eq!(
        (win.len(), sum["matched"].as_u64()),
        (5, Some(100)),
        "{sum}"
    );
    assert!(
        win.iter()
            .all(|m| m["received"].as_str().unwrap() >= "2024-05-01T00:10:00")
    );

    // For people: a heading per message, a line per recipient.
    let o = unlisted(
        dir.path(),
        &["logs", "messages", "--id", &exim_id(3), "mainlog"],
    );
    let text = stdout(&o);
    assert!(
        text.starts_with(&format!(
            "2024-05-01T00:00:18 {} auth:info@shop.example from 203.0.3.13, 4200 bytes",
            exim_id(3)
        )),
        "{text}"
    );
    assert!(
        text.contains("    subject: Invoice => overdue \"urgent\"\n"),
        "{text}"
    );
    assert!(text.contains("    bounced   target3@domain3.example via mx.domain.example [198.51.100.25]: SMTP error from remote mail server after RCPT TO:<target3@domain3.example>: 550 5.1.1"), "{text}");
    assert!(text.contains("1 of 500 messages matched; "), "{text}");
}

#[test]
fn logs_messages_follows_mail_through_a_content_filter() {
    // The copy amavis queues again is the one that meets the world: it is
    // shown as the stolen mailbox's mail, next to the message it took.
    let dir = TempDir::new("logs-messages-amavis");
    dir.write("maillog", &through_amavis());
    let (msgs, sum) = messages(
        &dir,
        &[
            "--format",
            "postfix",
            "--sender",
            "auth:info@shop.example",
            "maillog",
        ],
    );
    assert_eq!(sum["matched"], 180, "{sum}");
    let taken = msgs.iter().find(|m| m["id"] == "C00000").unwrap();
    assert_eq!(taken["relayed_as"], "D00000");
    let copy = msgs.iter().find(|m| m["id"] == "D00000").unwrap();
    assert_eq!(copy["sender"], "auth:info@shop.example");
    assert_eq!(copy["recipients"][0]["outcome"], "bounced");
    assert!(
        copy["recipients"][0]["reply"]
            .as_str()
            .unwrap()
            .contains("550 5.1.1 user unknown")
    );
    // The copy's own id finds both.
    let (both, _) = messages(&dir, &["--format", "postfix", "--id", "D00001", "maillog"]);
    let ids: Vec<&str> = both.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["C00001", "D00001"]);
}

#[test]
fn a_dual_stack_servers_mapped_ipv4_clients_are_ipv4() {
    // Behind a dual-stack socket IPv4 clients are logged as
    // `::ffff:203.0.113.9`: still one client per address and one /24 per
    // network, so a mailbox logging in from 40 networks is caught, a
    // relay client is `ip:` its IPv4 address, and mapped loopback is this
    // server itself.
    let dir = TempDir::new("logs-mapped");
    let mut log = String::new();
    let mut mapped = |line: String| writeln!(log, "{line}").unwrap();
    for i in 0..60usize {
        let (t, id) = (ts(0, i as i64 * 6), exim_id(i));
        let ip = format!("::ffff:203.0.{}.{}", i % 40, 10 + i % 7);
        mapped(format!(
            "{t} {id} <= info@shop.example H=(pc{i}) [{ip}]:5{i:04} P=esmtpsa A=dovecot_plain:info@shop.example S=4200 for t{i}@d.example"
        ));
        mapped(format!(
            "{t} {id} => t{i}@d.example R=dnslookup T=remote_smtp H=mx.d.example [198.51.100.25] C=\"250 OK\""
        ));
        mapped(format!("{t} {id} Completed"));
    }
    for (n, (from, ip)) in [
        ("x@y.example", "::ffff:198.51.100.77"),
        ("wp@site.example", "::ffff:127.0.0.1"),
    ]
    .iter()
    .enumerate()
    {
        let (t, id) = (ts(0, 400), exim_id(900 + n));
        mapped(format!(
            "{t} {id} <= {from} H=(h) [{ip}]:4000 P=esmtp S=10 for z@d.example"
        ));
        mapped(format!(
            "{t} {id} => z@d.example R=dnslookup T=remote_smtp H=mx.d.example [198.51.100.25] C=\"250 OK\""
        ));
        mapped(format!("{t} {id} Completed"));
    }
    dir.write("mainlog", &log);
    let (_, out) = analyze(&dir, &["--all", "mainlog"]);
    let mailbox = sender(&out, "auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert!(mailbox["reasons"].to_string().contains("login_networks"));
    assert!(mailbox["reasons"].to_string().contains("203.0.0.0/24"));
    assert_eq!(mailbox["client_ips"], 60);
    sender(&out, "ip:198.51.100.77");
    sender(&out, "from:wp@site.example");
    // Postfix's smtpd, the same.
    dir.write(
        "maillog",
        "May  1 00:00:01 mx postfix/smtpd[100]: 4A3B2C1D0E: client=unknown[::ffff:203.0.113.9]\n\
         May  1 00:00:01 mx postfix/qmgr[103]: 4A3B2C1D0E: from=<a@b.example>, size=10, nrcpt=1 (queue active)\n\
         May  1 00:00:02 mx postfix/smtp[104]: 4A3B2C1D0E: to=<z@d.example>, relay=mx.d.example[198.51.100.25]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n\
         May  1 00:00:02 mx postfix/qmgr[103]: 4A3B2C1D0E: removed\n",
    );
    let (_, out) = analyze(&dir, &["--all", "maillog"]);
    assert_eq!(sender(&out, "ip:203.0.113.9")["client_ips"], 1);
}

#[test]
fn a_login_in_mixed_case_is_one_mailbox() {
    // The mail server takes the login in any case; the thief types it in
    // three. One sender, as holds, complaints and the policy service
    // write it, and all its messages together.
    let dir = TempDir::new("logs-case");
    let mut log = String::new();
    for i in 0..90usize {
        let (t, id) = (ts(0, i as i64 * 20), exim_id(i));
        let login = [
            "Info@Shop.example",
            "INFO@SHOP.EXAMPLE",
            "info@shop.example",
        ][i % 3];
        writeln!(log, "{t} {id} <= {login} H=(pc) [203.0.113.{}]:5000 P=esmtpsa A=dovecot_login:{login} S=900 for r{i}@example.net", i % 50).unwrap();
        writeln!(log, "{t} {id} => r{i}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"").unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    dir.write("mainlog", &log);
    let (_, out) = analyze(&dir, &["--all", "mainlog"]);
    let senders: Vec<&str> = out.iter().filter_map(|l| l["sender"].as_str()).collect();
    assert_eq!(senders, ["auth:info@shop.example"], "{out:#?}");
    assert_eq!(sender(&out, "auth:info@shop.example")["messages"], 90);
}

#[test]
fn plesks_virtual_hosts_tie_mailboxes_to_their_subscription() {
    // Plesk keeps no domain-owner file: a subscription's domain is a
    // directory of /var/www/vhosts owned by its system user, with its
    // additional domains inside. Mailboxes of those domains in a Postfix
    // log (which names no account) are that user's.
    let dir = TempDir::new("logs-plesk");
    let vhosts = dir.path().join("vhosts");
    for d in [
        "system/shop.example",
        "default/htdocs",
        "shop.example/httpdocs",
        "shop.example/other.example",
    ] {
        std::fs::create_dir_all(vhosts.join(d)).unwrap();
    }
    // uid 1 is `daemon` on Debian (base-passwd); the rest stays root's.
    for d in [
        "shop.example",
        "shop.example/httpdocs",
        "shop.example/other.example",
    ] {
        std::os::unix::fs::chown(vhosts.join(d), Some(1), None).unwrap();
    }
    let mut log = String::new();
    for (i, who) in [
        "info@shop.example",
        "sales@other.example",
        "x@elsewhere.example",
    ]
    .iter()
    .enumerate()
    {
        let q = format!("{:X}", 0xA0000 + i);
        writeln!(log, "May  1 10:00:0{i} mx postfix/submission/smtpd[100]: {q}: client=unknown[203.0.113.{i}], sasl_method=PLAIN, sasl_username={who}").unwrap();
        writeln!(log, "May  1 10:00:0{i} mx postfix/qmgr[102]: {q}: from=<{who}>, size=900, nrcpt=1 (queue active)").unwrap();
        writeln!(log, "May  1 10:00:0{i} mx postfix/smtp[103]: {q}: to=<r{i}@example.net>, relay=mx.example.net[198.51.100.8]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)").unwrap();
        writeln!(log, "May  1 10:00:0{i} mx postfix/qmgr[102]: {q}: removed").unwrap();
    }
    // PHP's mail() in the subscription's site (Postfix logs the uid), and
    // a uid that is no subscription's.
    for (q, uid) in [("B0001", 1), ("B0002", 0)] {
        writeln!(
            log,
            "May  1 10:00:05 mx postfix/pickup[101]: {q}: uid={uid} from=<web@shop.example>"
        )
        .unwrap();
        writeln!(log, "May  1 10:00:05 mx postfix/qmgr[102]: {q}: from=<web@shop.example>, size=900, nrcpt=1 (queue active)").unwrap();
        writeln!(log, "May  1 10:00:05 mx postfix/smtp[103]: {q}: to=<w@example.net>, relay=mx.example.net[198.51.100.8]:25, delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)").unwrap();
        writeln!(log, "May  1 10:00:05 mx postfix/qmgr[102]: {q}: removed").unwrap();
    }
    dir.write("maillog", &log);
    dir.write("unlisted.toml", "[enforce]\nuserdomains = \"vhosts\"\n");
    let (_, out) = analyze(&dir, &["--all", "maillog"]);
    assert_eq!(sender(&out, "auth:info@shop.example")["account"], "daemon");
    assert_eq!(
        sender(&out, "auth:sales@other.example")["account"],
        "daemon"
    );
    assert_eq!(
        sender(&out, "auth:x@elsewhere.example")["account"],
        serde_json::Value::Null
    );
    assert_eq!(sender(&out, "local:1")["account"], "daemon");
    assert_eq!(sender(&out, "local:0")["account"], "0");
    // A subscription's mail, found by its account.
    let o = unlisted(
        dir.path(),
        &[
            "logs",
            "messages",
            "--json",
            "--account",
            "daemon",
            "maillog",
        ],
    );
    let lines = json_lines(&o);
    assert_eq!(lines.last().unwrap()["matched"], 3, "{}", stderr(&o));
}

/// Spam from 150 outside hosts to a cPanel forwarder that sends it on to
/// Gmail (cPanel's `dkim_remote_forwarded_smtp` transport, as in the
/// reference's lines), Gmail refusing a third as unsolicited; and an
/// honest forward beside it.
pub(crate) fn forwarded_spam(out: &mut String, base: i64) {
    for i in 0..150usize {
        let (t, id) = (ts(base, i as i64 * 10), exim_id(3000 + i));
        let ip = format!("198.51.{}.{}", i % 90, 1 + i % 200);
        writeln!(out, "{t} {id} <= offer{i}@spam{}.example H=mx{i}.spam.example [{ip}]:25 P=esmtp S=9000 id=s{i}@spam.example T=\"You won\" for info@fishingnet.example", i % 37).unwrap();
        if i % 3 == 0 {
            writeln!(out, "{t} {id} ** owner.fish@gmail.com (info@fishingnet.example) <info@fishingnet.example> R=dkim_lookuphost T=dkim_remote_forwarded_smtp H=alt1.gmail-smtp-in.l.google.com [192.0.2.26]: SMTP error from remote mail server after end of data: 550-5.7.1 [192.0.2.1 12] Gmail has detected that this message is likely unsolicited mail.").unwrap();
        } else {
            writeln!(out, "{t} {id} => owner.fish@gmail.com <info@fishingnet.example> R=dkim_lookuphost T=dkim_remote_forwarded_smtp H=gmail-smtp-in.l.google.com [192.0.2.27] C=\"250 2.0.0 OK\"").unwrap();
        }
        writeln!(out, "{t} {id} Completed").unwrap();
    }
    for i in 0..5usize {
        let (t, id) = (ts(base, i as i64 * 300), exim_id(3500 + i));
        writeln!(out, "{t} {id} <= friend@pals.example H=mx.pals.example [203.0.113.80]:25 P=esmtps S=3000 for bob@family.example").unwrap();
        writeln!(out, "{t} {id} => bob.family@gmail.com <bob@family.example> R=dkim_lookuphost T=dkim_remote_forwarded_smtp H=gmail-smtp-in.l.google.com [192.0.2.27] C=\"250 2.0.0 OK\"").unwrap();
        writeln!(out, "{t} {id} Completed").unwrap();
    }
}

#[test]
fn spam_sent_on_by_a_forward_is_the_forwards() {
    // 150 outside senders, a message each: none is spamming; the forward
    // that sends them all to Gmail is, and its account is named.
    let dir = TempDir::new("logs-forward");
    let mut log = String::new();
    forwarded_spam(&mut log, 0);
    dir.write("mainlog", &log);
    dir.write("owners", "fishingnet.example: fish\nfamily.example: bob\n");
    dir.write("unlisted.toml", "[enforce]\nuserdomains = \"owners\"\n");
    let (o, out) = analyze(&dir, &["--all", "mainlog"]);
    assert_eq!(o.status.code(), Some(1));
    let fwd = sender(&out, "forward:info@fishingnet.example");
    assert_eq!(fwd["verdict"], "spamming", "{fwd:#}");
    assert_eq!(fwd["messages"], 150);
    assert_eq!(fwd["account"], "fish");
    assert!(
        fwd["reasons"].to_string().contains("likely unsolicited"),
        "{fwd:#}"
    );
    let honest = sender(&out, "forward:bob@family.example");
    assert_eq!(
        (honest["verdict"].as_str(), honest["account"].as_str()),
        (Some("ok"), Some("bob"))
    );
    // No outside sender is blamed: they sent nothing out themselves.
    assert!(
        out.iter()
            .all(|l| !l["sender"].as_str().is_some_and(|s| s.starts_with("ip:"))),
        "{out:#?}"
    );
    // The messages: each is the forward's, with Gmail's answer.
    let (msgs, _) = messages(
        &dir,
        &[
            "--sender",
            "forward:info@fishingnet.example",
            "--limit",
            "1",
            "mainlog",
        ],
    );
    let r = &msgs[0]["recipients"][0];
    assert_eq!(
        (r["address"].as_str(), r["forwarded"].as_bool()),
        (Some("info@fishingnet.example"), Some(true))
    );
    assert_eq!(msgs[0]["client_ip"], "198.51.0.1");
    // No hold reaches a forward: the refusal says what to do instead.
    let o = unlisted(
        dir.path(),
        &[
            "hold",
            "add",
            "forward:info@fishingnet.example",
            "--reason",
            "spam",
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("remove or filter the forward"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn gmails_pushback_counts_even_when_a_retry_gets_through() {
    // Gmail defers a stolen mailbox's mail ("unusual rate of unsolicited
    // mail") and takes it an hour later: the pushback is the evidence,
    // as the daemon counts it when it judges the deferred messages.
    let dir = TempDir::new("logs-deferred-then-sent");
    let mut log = String::new();
    for i in 0..60usize {
        let (t, id) = (ts(0, i as i64 * 30), exim_id(i));
        writeln!(log, "{t} {id} <= info@shop.example H=(pc) [203.0.113.5]:5000 P=esmtpsa A=dovecot_plain:info@shop.example S=4200 for t{i}@gmail.com").unwrap();
        writeln!(log, "{t} {id} == t{i}@gmail.com R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [198.51.100.26]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail").unwrap();
    }
    for i in 0..60usize {
        let (t, id) = (ts(3600, i as i64 * 30), exim_id(i));
        writeln!(log, "{t} {id} => t{i}@gmail.com R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [198.51.100.26] C=\"250 2.0.0 OK\"").unwrap();
        writeln!(log, "{t} {id} Completed").unwrap();
    }
    dir.write("mainlog", &log);
    let (_, out) = analyze(&dir, &["mainlog"]);
    let mailbox = sender(&out, "auth:info@shop.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert!(
        mailbox["reasons"].to_string().contains("spam_replies"),
        "{mailbox:#}"
    );
    assert_eq!(mailbox["bounced"], 0);
}

#[test]
fn mail_this_servers_own_scan_refused_counts_against_its_sender() {
    // cPanel's outgoing spam scan refuses a stolen mailbox's mail after
    // DATA: nothing is queued, yet each refusal is that mailbox's
    // message, and the scan's word is evidence (the reference's line).
    let dir = TempDir::new("logs-refused");
    let mut log = String::new();
    for i in 0..30usize {
        let (t, id) = (ts(0, i as i64 * 20), exim_id(i));
        writeln!(log, "{t} {id} H=(pc) [203.0.113.{}]:5000 I=[192.0.2.1]:587 P=esmtpsa X=TLS1.3 A=dovecot_login:Test@betonyapi.example F=<test@betonyapi.example> rejected after DATA: \"SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (16.3)\"", i % 3).unwrap();
    }
    // An outside server refused the same way is not ours to judge.
    writeln!(log, "{} {} H=mx.out.example [198.51.100.9]:25 P=esmtp F=<x@out.example> rejected after DATA: \"This message was detected as possible malware\"", ts(0, 700), exim_id(99)).unwrap();
    dir.write("mainlog", &log);
    let (o, out) = analyze(&dir, &["--all", "mainlog"]);
    assert_eq!(o.status.code(), Some(1));
    let mailbox = sender(&out, "auth:test@betonyapi.example");
    assert_eq!(mailbox["verdict"], "spamming", "{mailbox:#}");
    assert_eq!(mailbox["messages"], 30);
    assert!(
        mailbox["reasons"].to_string().contains("cpaneleximscanner"),
        "{mailbox:#}"
    );
    let senders: Vec<&str> = out.iter().filter_map(|l| l["sender"].as_str()).collect();
    assert_eq!(senders, ["auth:test@betonyapi.example"]);
    let summary = out.last().unwrap();
    assert_eq!(summary["messages"], 31);
    // logs messages shows the refusal.
    let (msgs, _) = messages(&dir, &["--id", &exim_id(0), "mainlog"]);
    assert!(
        msgs[0]["rejected"]
            .as_str()
            .unwrap()
            .contains("OUTGOING smtp message as spam")
    );
    assert_eq!(msgs[0]["client_ip"], "203.0.113.0");
}

#[test]
fn a_listing_is_named_in_the_summary_and_blames_no_honest_sender() {
    // Spamhaus lists the server's IP at 01:00: half of every sender's
    // mail then bounces "blocked using zen.spamhaus.org", and Gmail
    // defers some. The summary names who refuses the IP; the honest
    // senders are told of it (suspicious), not called spamming.
    let dir = TempDir::new("logs-listing");
    let mut log = String::new();
    let users = ["news@shop.example", "amy@law.example", "sales@farm.example"];
    let mut n = 0;
    for i in 0..120usize {
        for (u, user) in users.iter().enumerate() {
            let (t, id) = (ts(0, i as i64 * 60 + u as i64 * 7), exim_id(n));
            n += 1;
            let rcpt = format!("c{i}@dest{}.example", i % 9);
            writeln!(log, "{t} {id} <= {user} H=(pc) [203.0.113.{u}]:5000 P=esmtpsa A=dovecot_login:{user} S=4200 for {rcpt}").unwrap();
            if i >= 60 && i % 2 == 0 {
                writeln!(log, "{t} {id} ** {rcpt} R=dnslookup T=remote_smtp H=mx.dest.example [198.51.100.9]: SMTP error from remote mail server after RCPT TO:<{rcpt}>: 554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org").unwrap();
            } else {
                writeln!(log, "{t} {id} => {rcpt} R=dnslookup T=remote_smtp H=mx.dest.example [198.51.100.9] C=\"250 OK\"").unwrap();
            }
            writeln!(log, "{t} {id} Completed").unwrap();
        }
    }
    dir.write("mainlog", &log);
    let (o, out) = analyze(&dir, &["--all", "mainlog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for user in users {
        let s = sender(&out, &format!("auth:{user}"));
        assert_eq!(s["verdict"], "suspicious", "{s:#}");
        assert!(s["reasons"].to_string().contains("ip_blocked"), "{s:#}");
        assert_eq!(s["bounced"], 30);
    }
    let refusals = &out.last().unwrap()["remote_refusals"];
    assert_eq!(refusals.as_array().unwrap().len(), 1, "{refusals:#}");
    assert_eq!(refusals[0]["source"], "spamhaus-zen");
    assert_eq!(refusals[0]["refusals"], 90);
    assert_eq!(refusals[0]["first"], "2024-05-01T01:00:00");
    assert!(
        refusals[0]["sample"]
            .as_str()
            .unwrap()
            .contains("blocked using zen.spamhaus.org")
    );
    let human = unlisted(dir.path(), &["logs", "analyze", "mainlog"]);
    assert!(
        stdout(&human).contains("refused by spamhaus-zen: 90 recipients, 2024-05-01T01:00:00 .. "),
        "{}",
        stdout(&human)
    );
}

/// Power lost while Exim wrote: the file's last block was allocated but
/// never written, so NUL bytes fill it, and after the reboot Exim's next
/// line follows them on the same line. That line is read (with one thread
/// and with three), the hole is counted, and nothing around it is lost.
#[test]
fn a_crash_hole_in_the_log_loses_no_line_after_it() {
    let dir = TempDir::new("logs-hole");
    let mut log = String::new();
    contact_form(&mut log, 0);
    php_mailer(&mut log, 3600);
    dir.write("clean.log", &log);
    let (_, clean) = analyze(&dir, &["clean.log"]);
    // The hole ends a line mid-file: before a PHP mailer's `<=` line.
    let cut = log.find(" <= wordpress").expect("an arrival");
    let cut = log[..cut].rfind('\n').unwrap() + 1;
    let senders = |l: &[serde_json::Value]| -> Vec<serde_json::Value> {
        l.iter()
            .filter(|x| x["type"] == "sender")
            .cloned()
            .collect()
    };
    // A few blocks, and more than the parser reads of a line.
    for size in [4096, 3 << 20] {
        let holed = [&log[..cut], &"\0".repeat(size), &log[cut..]].concat();
        dir.write("holed.log", &holed);
        let (o, lines) = analyze(&dir, &["holed.log"]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(senders(&lines), senders(&clean), "{size}");
        let (a, b) = (lines.last().unwrap(), clean.last().unwrap());
        assert_eq!(a["holes"], 1, "{a:#}");
        assert_eq!(b["holes"], 0);
        for key in [
            "lines",
            "understood",
            "not_understood",
            "messages",
            "incomplete",
            "cut_lines",
        ] {
            assert_eq!(a[key], b[key], "{size} {key}");
        }
    }
    // Said on a terminal's report too.
    let o = unlisted(dir.path(), &["logs", "analyze", "holed.log"]);
    assert!(
        stderr(&o).contains("1 line began with NUL bytes"),
        "{}",
        stderr(&o)
    );
}

/// A password guessed from many addresses, then the mailbox sending: the
/// login is suspicious with the failures as its evidence, on one thread
/// and on three (every shard reads every failure). The owner's phone with
/// an old password (one address, many failures) is not.
#[test]
fn a_login_after_failed_logins_from_many_addresses_is_suspicious() {
    let dir = TempDir::new("logs-failed-logins");
    let (mut exim, mut postfix) = (String::new(), String::new());
    let syslog_t = |secs: i64| format!("May  1 {}", &ts(0, secs)[11..]);
    for i in 0..60i64 {
        let t = ts(0, i * 30);
        // The thief: 60 guesses from 20 addresses.
        writeln!(exim, "{t} dovecot_login authenticator failed for (User) [198.51.100.{}]:50000: 535 Incorrect authentication data (set_id=info@shop.example)", i % 20).unwrap();
        writeln!(postfix, "{} mx postfix/smtpd[{}]: warning: unknown[198.51.100.{}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info@shop.example", syslog_t(i * 30), 100 + i, i % 20).unwrap();
        // The owner's old phone.
        writeln!(exim, "{t} dovecot_login authenticator failed for (phone) [203.0.113.77]:50000: 535 Incorrect authentication data (set_id=bob@shop.example)").unwrap();
        writeln!(postfix, "{} mx postfix/smtpd[{}]: warning: unknown[203.0.113.77]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=bob@shop.example", syslog_t(i * 30), 200 + i).unwrap();
    }
    for i in 0..40usize {
        let secs = 1800 + i as i64 * 15;
        let (t, id) = (ts(0, secs), exim_id(i));
        let user = if i % 2 == 0 { "info" } else { "bob" };
        let ip = if i % 2 == 0 {
            "192.0.2.8"
        } else {
            "203.0.113.77"
        };
        writeln!(exim, "{t} {id} <= {user}@shop.example H=(pc) [{ip}]:5000 P=esmtpsa A=dovecot_login:{user}@shop.example S=900 for r{i}@example.net").unwrap();
        writeln!(exim, "{t} {id} => r{i}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.8] C=\"250 OK\"").unwrap();
        writeln!(exim, "{t} {id} Completed").unwrap();
        let (st, q) = (syslog_t(secs), format!("{:X}", 0x3A0_0000 + i * 7919));
        writeln!(postfix, "{st} mx postfix/smtpd[9{i}]: {q}: client=pc[{ip}], sasl_method=LOGIN, sasl_username={user}@shop.example").unwrap();
        writeln!(postfix, "{st} mx postfix/qmgr[3]: {q}: from=<{user}@shop.example>, size=900, nrcpt=1 (queue active)").unwrap();
        writeln!(postfix, "{st} mx postfix/smtp[4]: {q}: to=<r{i}@example.net>, relay=mx.example.net[198.51.100.8]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 OK)").unwrap();
        writeln!(postfix, "{st} mx postfix/qmgr[3]: {q}: removed").unwrap();
    }
    dir.write("mainlog", &exim);
    dir.write("maillog", &postfix);
    for file in ["mainlog", "maillog"] {
        let (o, out) = analyze(&dir, &["--all", file]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let info = sender(&out, "auth:info@shop.example");
        assert_eq!(info["verdict"], "suspicious", "{file}: {info:#}");
        let reason = &info["reasons"][0];
        assert_eq!(reason["code"], "failed_logins", "{file}: {info:#}");
        let detail = reason["detail"].as_str().unwrap();
        // Every guess came before the first login (30 minutes in).
        assert!(
            detail.contains("60 failed logins from 20 addresses"),
            "{file}: {detail}"
        );
        assert!(
            reason["samples"][0]
                .as_str()
                .unwrap()
                .contains("198.51.100.19"),
            "{file}: {info:#}"
        );
        let bob = sender(&out, "auth:bob@shop.example");
        assert_eq!(bob["verdict"], "ok", "{file}: {bob:#}");
        let summary = out.last().unwrap();
        assert_eq!(summary["not_understood"], 0, "{file}: {summary:#}");
        // The summary tallies every failure, by name and by address.
        let f = &summary["failed_logins"];
        assert_eq!(
            (
                f["failures"].as_u64(),
                f["names"].as_u64(),
                f["addresses"].as_u64()
            ),
            (Some(120), Some(2), Some(21)),
            "{file}: {f:#}"
        );
        let names: Vec<(&str, u64, u64)> = f["top_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap(),
                    n["failures"].as_u64().unwrap(),
                    n["addresses"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [("bob@shop.example", 60, 1), ("info@shop.example", 60, 20)],
            "{file}"
        );
        assert_eq!(f["top_addresses"][0]["address"], "203.0.113.77", "{file}");
        assert_eq!(f["top_addresses"].as_array().unwrap().len(), 5, "{file}");
        let human = analyze_both_ways(dir.path(), &[file]);
        assert!(
            stdout(&human).contains(
                "failed logins: 120 naming 2 mailboxes from 21 addresses; most from 203.0.113.77 (60), 198.51.100.0 (3),"
            ),
            "{file}: {}",
            stdout(&human)
        );
        // Each of its messages says so, to JSON and to people.
        let (msgs, _) = messages(&dir, &["--sender", "auth:info@shop.example", file]);
        assert_eq!(msgs.len(), 20, "{file}");
        let f = &msgs[0]["failed_logins"];
        assert_eq!(
            (f["count"].as_u64(), f["ips"].as_u64()),
            (Some(60), Some(20)),
            "{file}: {f:#}"
        );
        let o = unlisted(
            dir.path(),
            &[
                "logs",
                "messages",
                "--limit",
                "1",
                "--sender",
                "auth:info@shop.example",
                file,
            ],
        );
        assert!(
            // Syslog lines carry no year.
            stdout(&o).contains("logged in after 60 failed logins from 20 addresses since ")
                && stdout(&o).contains("-05-01T00:00:00\n"),
            "{file}: {}",
            stdout(&o)
        );
    }
}
