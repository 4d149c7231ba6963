//! The daemon investigates a script that turns spamming: it scans the
//! script's site and traces the script through the access log and the mail
//! log, once, and `unlisted scans` shows the outcome.

use std::fmt::Write as _;

use testsupport::TempDir;

use crate::logs::php_mailer_in;
use crate::{json_lines, stderr, stdout, unlisted};

#[test]
fn a_spamming_script_gets_its_site_scanned_and_traced_once() {
    let dir = TempDir::new("investigate");
    let uploads = "home/bob/public_html/wp-content/uploads/2024/04";
    // The mailer the attacker dropped (our defanged sample) and an honest
    // page beside it.
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sitescan/testdata/malicious/php_mass_mailer--leaf.php");
    dir.write(
        &format!("{uploads}/mailer.php"),
        &std::fs::read_to_string(sample).unwrap(),
    );
    dir.write("home/bob/public_html/index.php", "<?php echo 'hello';\n");
    let cwd = dir.path().join(uploads);
    let mut mail = String::new();
    php_mailer_in(&mut mail, 0, cwd.to_str().unwrap());
    dir.write("mail.log", &mail);
    // The access log: an upload through a plugin, then a POST to the
    // mailer for each message (the mail log's clock is the access log's
    // zone: 2024-05-01, +0000).
    let mut access = String::new();
    let clf = |secs: i64| {
        format!(
            "01/May/2024:{:02}:{:02}:{:02} +0000",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    };
    writeln!(access, "203.0.113.66 - - [30/Apr/2024:23:58:00 +0000] \"POST /wp-admin/admin-ajax.php?action=forms_upload HTTP/1.1\" 200 10 \"-\" \"x\"").unwrap();
    for i in 0..80 {
        writeln!(
            access,
            "203.0.113.66 - - [{}] \"POST /wp-content/uploads/2024/04/mailer.php HTTP/1.1\" 200 10 \"-\" \"x\"",
            clf(i * 20)
        )
        .unwrap();
    }
    dir.write("access.log", &access);
    dir.write(
        "unlisted.toml",
        "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n\n[scan]\naccess_logs = [\"access.log\"]\n",
    );

    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let scans = json_lines(&unlisted(dir.path(), &["scans", "--json"]));
    assert_eq!(scans.len(), 1, "{scans:?}");
    let s = &scans[0];
    assert_eq!(s["sender"], format!("script:{}", cwd.display()));
    assert_eq!(s["state"], "finished", "{s}");
    assert_eq!(
        s["root"],
        dir.path()
            .join("home/bob/public_html")
            .display()
            .to_string()
    );
    assert!(s["malicious"].as_i64().unwrap() >= 1, "{s}");

    let full = &json_lines(&unlisted(dir.path(), &["scans", "1", "--json"]))[0];
    let report = &full["report"];
    assert!(
        report["findings"].as_array().unwrap().iter().any(|f| {
            f["rule"] == "unlisted:php_mass_mailer"
                && f["path"].as_str().unwrap().ends_with("mailer.php")
        }),
        "{report}"
    );
    let trace = &report["trace"]["trace"];
    assert_eq!(trace["url_path"], "/wp-content/uploads/2024/04");
    assert_eq!(trace["requests"], 80);
    assert_eq!(trace["clients"]["203.0.113.66"], 80);
    assert_eq!(trace["around"][0][0], "ajax");
    assert_eq!(trace["mail"]["messages"], 80);
    assert_eq!(trace["mail"]["after_posts"], 80);

    let text = stdout(&unlisted(dir.path(), &["scans", "1"]));
    assert!(text.contains("MALICIOUS"), "{text}");
    assert!(text.contains("mail from it: 80 messages"), "{text}");

    // A restart reads nothing new and scans nothing twice.
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        json_lines(&unlisted(dir.path(), &["scans", "--json"])).len(),
        1
    );
}

#[test]
fn a_scan_that_cannot_run_says_why_and_is_not_retried() {
    let dir = TempDir::new("investigate-gone");
    let mut mail = String::new();
    // The script's directory is not on this machine (the log came from
    // elsewhere).
    php_mailer_in(&mut mail, 0, "/nonexistent/public_html/wp-content/uploads");
    dir.write("mail.log", &mail);
    dir.write(
        "unlisted.toml",
        "[[log]]\npath = \"mail.log\"\nformat = \"exim\"\n",
    );
    for _ in 0..2 {
        let o = unlisted(dir.path(), &["serve", "--once"]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }
    let scans = json_lines(&unlisted(dir.path(), &["scans", "--json"]));
    assert_eq!(scans.len(), 1, "{scans:?}");
    assert_eq!(scans[0]["state"], "failed");
    assert_eq!(
        scans[0]["error"],
        "/nonexistent/public_html is not a directory here"
    );
}
