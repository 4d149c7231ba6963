//! Config and catalog commands.

use testsupport::TempDir;

use crate::{json_lines, stderr, stdout, unlisted};

#[test]
fn config_example_passes_config_check() {
    let dir = TempDir::new("cli");
    let o = unlisted(dir.path(), &["config", "example"]);
    assert_eq!(o.status.code(), Some(0));
    dir.write("unlisted.toml", &stdout(&o));
    let o = unlisted(dir.path(), &["config", "check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("unlisted.toml: ok (1 servers, 4 targets)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn config_check_reports_every_problem() {
    let dir = TempDir::new("cli");
    dir.write(
        "bad.toml",
        "[monitor]\nlists = [\"nope\", \"sorbs\"]\n[[server]]\nname = \"mx1\"\nips = [\"999.1.1.1\", \"192.0.2.1\"]\n",
    );
    let o = unlisted(dir.path(), &["config", "check", "--config", "bad.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("`nope`") && err.contains("`sorbs` is defunct") && err.contains("`999.1.1.1`"),
        "{err}"
    );
    assert!(stdout(&o).contains("3 problems"));

    dir.write("typo.toml", "[monitor]\nintervall = \"5m\"\n");
    let o = unlisted(dir.path(), &["config", "check", "--config", "typo.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("intervall"), "{}", stderr(&o));

    let o = unlisted(dir.path(), &["config", "check", "--config", "missing.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.toml"));
}

#[test]
fn serve_without_config_says_how_to_start() {
    let dir = TempDir::new("cli");
    let o = unlisted(dir.path(), &["serve", "--once"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unlisted config example"));
}

#[test]
fn status_creates_and_migrates_the_store_on_first_use() {
    let dir = TempDir::new("cli");
    let o = unlisted(dir.path(), &["status", "--db", "fresh.db"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("no current listings"));
    assert!(dir.path().join("fresh.db").exists());
    let o = unlisted(dir.path(), &["status", "--db", "/nonexistent-dir/x.db"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent-dir/x.db"));
}

#[test]
fn lists_shows_the_catalog_and_user_overrides() {
    let dir = TempDir::new("cli");
    dir.write(
        "extra.toml",
        "[[list]]\nid = \"ours\"\nname = \"Our list\"\nzone = \"bl.example.net\"\nkinds = [\"ipv4\"]\n[list.delisting]\nroutes = [\"email\"]\nemail = \"abuse@example.net\"\n",
    );
    let o = unlisted(dir.path(), &["lists", "--json", "--catalog", "extra.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(lines.len() > 40);
    assert!(lines.iter().all(|l| l["status"] == "active"));
    assert!(
        lines
            .iter()
            .any(|l| l["id"] == "ours" && l["zone"] == "bl.example.net")
    );
    let o = unlisted(dir.path(), &["lists", "--defunct"]);
    assert!(stdout(&o).contains("DEFUNCT: decommissioned on 5 June 2024"));
}

#[test]
fn broken_pipe_exits_zero() {
    let dir = TempDir::new("cli");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_unlisted"))
        .args(["lists", "--defunct"])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped systemd unit is one systemd accepts (its own checker, on
/// the unit with this build's binary in place of /usr/local/bin), and its
/// commands are ones this binary takes.
#[test]
fn the_systemd_unit_passes_systemds_checker_and_runs_our_commands() {
    let dir = TempDir::new("systemd-unit");
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../integration/systemd/unlisted.service"),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_unlisted");
    let unit = shipped.replace("/usr/local/bin/unlisted", bin);
    dir.write("unlisted.service", &unit);
    let o = std::process::Command::new(testsupport::find_program("systemd-analyze"))
        .arg("verify")
        .arg(dir.path().join("unlisted.service"))
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "systemd-analyze verify: {}",
        stderr(&o)
    );
    // Each command with the config and store moved here.
    let o = unlisted(dir.path(), &["config", "example"]);
    dir.write("unlisted.toml", &stdout(&o));
    let commands: Vec<Vec<String>> = unit
        .lines()
        .filter_map(|l| {
            l.strip_prefix("ExecStartPre=")
                .or(l.strip_prefix("ExecStart="))
        })
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|a| match a {
                    "/etc/unlisted/unlisted.toml" => "unlisted.toml".to_string(),
                    "/var/lib/unlisted/unlisted.db" => "unlisted.db".to_string(),
                    a => a.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(commands.len(), 2, "{unit}");
    let check: Vec<&str> = commands[0].iter().map(String::as_str).collect();
    let o = unlisted(dir.path(), &check);
    assert_eq!(o.status.code(), Some(0), "{check:?}: {}", stderr(&o));
    // The daemon's command line is one the CLI takes (asked for --help
    // after it: the example watches servers through a resolver that is
    // not here).
    let mut serve: Vec<&str> = commands[1].iter().map(String::as_str).collect();
    assert_eq!(serve.first(), Some(&"serve"), "{serve:?}");
    serve.push("--help");
    let o = unlisted(dir.path(), &serve);
    assert_eq!(o.status.code(), Some(0), "{serve:?}: {}", stderr(&o));
}
