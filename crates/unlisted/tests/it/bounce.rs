//! `unlisted bounce explain`: the corpus of bench/bounces (real rejection
//! texts in DSN, Exim and bare-reply form) scored against its labels, and
//! stdin and unreadable input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use testsupport::TempDir;

use crate::{json_lines, stderr, stdout, unlisted};

#[test]
fn the_bounce_corpus_is_classified_as_labelled() {
    let dir = TempDir::new("bounces");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/bounces/make_corpus.py");
    let ok = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "make_corpus.py failed");
    let labels = std::fs::read_to_string(dir.path().join("labels.tsv")).unwrap();
    let rows: Vec<Vec<&str>> = labels
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split('\t').collect())
        .collect();
    assert!(rows.len() >= 30);
    let files: Vec<String> = rows.iter().map(|r| r[0].to_string()).collect();
    let mut args = vec!["bounce", "explain", "--json"];
    args.extend(files.iter().map(String::as_str));
    let o = unlisted(dir.path(), &args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = json_lines(&o);
    let mut misses = Vec::new();
    for r in &rows {
        let got = out
            .iter()
            .find(|e| e["file"] == r[0])
            .unwrap_or_else(|| panic!("no answer for {}", r[0]));
        let want = |v: &str| {
            if v == "-" {
                serde_json::Value::Null
            } else {
                serde_json::Value::from(v)
            }
        };
        let checks = [
            ("category", got["category"].clone(), want(r[1])),
            ("list", got["list"]["id"].clone(), want(r[2])),
            ("provider", got["provider"].clone(), want(r[3])),
            ("listed_ip", got["listed_ip"].clone(), want(r[4])),
        ];
        for (what, have, expected) in checks {
            if have != expected {
                misses.push(format!("{}: {what} {have} != {expected}", r[0]));
            }
        }
        assert!(!got["removal"].as_str().unwrap().is_empty());
    }
    assert!(misses.is_empty(), "{misses:#?}");
}

#[test]
fn a_reply_on_stdin_and_unreadable_files() {
    let dir = TempDir::new("bounce-stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(["bounce", "explain", "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let text = stdout(&o);
    assert!(text.contains("blocklisted, permanent"), "{text}");
    assert!(text.contains("listed IP 203.0.113.5"), "{text}");
    assert!(text.contains("removal: Spamhaus ZEN"), "{text}");

    dir.write("note.eml", "Subject: hi\n\nnothing here\n");
    let o = unlisted(
        dir.path(),
        &["bounce", "explain", "note.eml", "missing.eml"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("note.eml: no remote reply found"), "{err}");
    assert!(err.contains("cannot read missing.eml"), "{err}");
}
