//! Integration tests of the `unlisted` binary against real servers started
//! on loopback by `testsupport`: rbldnsd for DNS, aiosmtpd for SMTP, an HTTP
//! receiver for webhooks, and SQLite files in temporary directories.

mod bounce;
mod check;
mod cli;
mod complaints;
mod enforce;
mod incident;
mod ingest;
mod investigate;
mod logs;
mod monitor;
mod mta;
mod scan;
mod web;

use std::path::Path;
use std::process::{Command, Output};

use testsupport::{Rbldnsd, Zone};

/// Runs the binary in `dir` with a clean environment for our variables.
pub fn unlisted(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(args)
        .current_dir(dir)
        .env_remove("UNLISTED_CONFIG")
        .env_remove("UNLISTED_DB")
        .env_remove("UNLISTED_CATALOG")
        .env_remove("UNLISTED_NAMESERVER")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        // Logs are read in this machine's zone by default: the same on
        // every machine.
        .env("TZ", "UTC")
        .output()
        .expect("run unlisted")
}

/// `unlisted logs analyze ARGS` on one thread and split across three (by
/// message id): the two must print the same, byte for byte. Returns the
/// split run's output.
pub fn analyze_both_ways(dir: &Path, args: &[&str]) -> Output {
    let run = |threads: &str| {
        let mut a = vec!["logs", "analyze", "--threads", threads];
        a.extend_from_slice(args);
        unlisted(dir, &a)
    };
    let (one, three) = (run("1"), run("3"));
    assert_eq!(one.status.code(), three.status.code(), "{}", stderr(&three));
    assert!(
        one.stdout == three.stdout,
        "one thread and three disagree:\n{}\n---\n{}",
        stdout(&one),
        stdout(&three)
    );
    three
}

/// The sender objects of `logs analyze --json` output, every string in
/// them passed through `strip` (sample lines are quoted as read: a syslog
/// head, say, must go before two logs' senders compare).
pub fn senders_stripped(
    lines: &[serde_json::Value],
    strip: fn(&str) -> &str,
) -> Vec<serde_json::Value> {
    fn walk(v: &mut serde_json::Value, strip: fn(&str) -> &str) {
        match v {
            serde_json::Value::String(s) => *s = strip(s).to_string(),
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| walk(v, strip)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|v| walk(v, strip)),
            _ => {}
        }
    }
    let mut s: Vec<serde_json::Value> = lines
        .iter()
        .filter(|l| l["type"] == "sender")
        .cloned()
        .collect();
    s.iter_mut().for_each(|v| walk(v, strip));
    s
}

/// Starts `unlisted ARGS` in `dir` as a daemon (stderr discarded).
pub fn spawn(dir: &Path, args: &[&str]) -> std::process::Child {
    daemon_command(dir, args)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn unlisted")
}

/// [`spawn`], with what the daemon says kept in `dir/file`.
pub fn spawn_telling(dir: &Path, args: &[&str], file: &str) -> std::process::Child {
    daemon_command(dir, args)
        .stderr(std::fs::File::create(dir.join(file)).unwrap())
        .spawn()
        .expect("spawn unlisted")
}

fn daemon_command(dir: &Path, args: &[&str]) -> Command {
    // Daemons of tests running at once would all want the dashboard's
    // default port: the second would not start. Tests of the web give
    // their own.
    let no_web: &[&str] = if args.first() == Some(&"serve") && !args.contains(&"--listen") {
        &["--listen", ""]
    } else {
        &[]
    };
    let mut c = Command::new(env!("CARGO_BIN_EXE_unlisted"));
    c.args(args)
        .args(no_web)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env("TZ", "UTC");
    c
}

/// A real Exim relaying to an SMTP sink, with the SMTP AUTH mailbox
/// `info@shop.example` / `secret`.
pub(crate) fn exim_shop() -> (testsupport::SmtpSink, testsupport::Exim) {
    let sink = testsupport::SmtpSink::start();
    let exim = testsupport::Exim::start(sink.port, "info@shop.example", "secret");
    (sink, exim)
}

/// One SMTP AUTH submission as `info@shop.example`.
pub(crate) fn send_as_shop(exim: &testsupport::Exim, to: &[&str], subject: &str) -> bool {
    testsupport::swaks(
        exim.port,
        "127.0.0.1",
        Some(("info@shop.example", "secret")),
        "info@shop.example",
        to,
        subject,
    )
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The JSON Lines objects of stdout.
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

pub const SPAMCOP: &str = "\
:127.0.0.2:Blocked - see https://www.spamcop.net/bl.shtml?$
127.0.0.2
192.0.2.99
192.0.2.77 :92.242.132.24:
";

/// rbldnsd serving the zones the check tests use, under the real list
/// zone names (it is authoritative for them on loopback only).
pub fn blocklist_server() -> Rbldnsd {
    Rbldnsd::start(&[
        Zone {
            zone: "bl.spamcop.net",
            kind: "ip4set",
            data: SPAMCOP,
        },
        Zone {
            zone: "zen.spamhaus.org",
            kind: "ip4set",
            data: ":127.0.0.2:https://www.spamhaus.org/sbl/query/SBL1\n127.0.0.2\n192.0.2.99\n192.0.2.98 :127.255.255.254:Error: open resolver; https://check.spamhaus.org/returnc/pub/\n",
        },
        Zone {
            zone: "zen.spamhaus.org",
            kind: "ip4set",
            data: ":127.0.0.10:https://www.spamhaus.org/pbl/\n192.0.2.99\n",
        },
        Zone {
            zone: "zen.spamhaus.org",
            kind: "ip6trie",
            data: ":127.0.0.2:IPv6 SBL listing\n2001:db8::99\n",
        },
        Zone {
            zone: "all.s5h.net",
            kind: "ip4set",
            // rbldnsd ip4set ignores a /0 entry; two /1 halves cover everything.
            data: ":127.0.0.2:wildcard\n0.0.0.0/1\n128.0.0.0/1\n",
        },
        Zone {
            zone: "dbl.spamhaus.org",
            kind: "dnset",
            data: ":127.0.1.2:https://www.spamhaus.org/query/domain/$\ndbltest.com\nspam.example\n",
        },
        Zone {
            zone: "multi.uribl.com",
            kind: "dnset",
            data: "test.uribl.com :127.0.0.14:test\nrefused.example :127.0.0.1:Query Refused. See http://uribl.com/refused.shtml\n",
        },
    ])
}
