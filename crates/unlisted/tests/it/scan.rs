//! `unlisted scan`: findings as JSON Lines with their evidence, the exit
//! code, and a clean tree.

use std::path::Path;

use testsupport::TempDir;

use crate::{json_lines, stderr, unlisted};

#[test]
fn scan_reports_findings_with_evidence_and_exits_1_on_malicious() {
    let dir = TempDir::new("scan-cli");
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sitescan/testdata/malicious");
    let mailer = std::fs::read_to_string(samples.join("php_mass_mailer--loop.php")).unwrap();
    dir.write("site/wp-content/uploads/2024/04/x7Gq9Lm2Pz.php", &mailer);
    dir.write("site/index.php", "<?php require 'wp-blog-header.php';\n");
    let o = unlisted(dir.path(), &["scan", "--json", "site"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let mailer_hit = lines
        .iter()
        .find(|l| l["rule"] == "unlisted:php_mass_mailer")
        .expect("the mailer was not found");
    assert_eq!(mailer_hit["type"], "finding");
    assert_eq!(mailer_hit["severity"], "malicious");
    assert!(
        mailer_hit["path"]
            .as_str()
            .unwrap()
            .ends_with("x7Gq9Lm2Pz.php")
    );
    assert!(
        mailer_hit["matches"][0]["text"]
            .as_str()
            .unwrap()
            .contains("explode"),
        "{mailer_hit}"
    );
    assert_eq!(mailer_hit["sha256"].as_str().unwrap().len(), 64);
    assert!(mailer_hit["ctime_at"].as_str().unwrap().ends_with('Z'));
    // The weak signal of where it lives.
    assert!(lines.iter().any(|l| l["rule"] == "heuristic:odd_place"
        && l["description"].as_str().unwrap().contains("uploads")));
    let summary = lines.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["files"], 2);
    assert_eq!(summary["malicious_files"], 1);

    // A clean tree: exit 0. Rules that do not compile: exit 2, named.
    let o = unlisted(dir.path(), &["scan", "site/index.php"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    dir.write("bad/x.yar", "rule {\n");
    let o = unlisted(dir.path(), &["scan", "--rules", "bad", "site"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("x.yar do not compile"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn quarantine_takes_files_out_and_restores_them_exactly() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = TempDir::new("quarantine-cli");
    let f = dir.write("site/wp-content/uploads/x.php", "<?php exit; /* test */\n");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = std::fs::metadata(&f).unwrap();
    let o = unlisted(dir.path(), &["quarantine", "site/wp-content/uploads/x.php"]);
    assert_eq!(o.status.code(), Some(2), "a reason is required");
    let o = unlisted(
        dir.path(),
        &[
            "quarantine",
            "--reason",
            "mailer found by scan",
            "site/wp-content/uploads/x.php",
            "site/missing.php",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "one file could not be taken");
    assert!(stderr(&o).contains("missing.php"), "{}", stderr(&o));
    assert!(!f.exists(), "the file is still in the site");
    let list = json_lines(&unlisted(dir.path(), &["quarantine", "list", "--json"]));
    assert_eq!(list.len(), 1);
    let kept = std::path::PathBuf::from(list[0]["stored"].as_str().unwrap());
    assert!(kept.starts_with(dir.path().join("quarantine")));
    assert_eq!(
        std::fs::metadata(&kept).unwrap().mode() & 0o7777,
        0,
        "kept copy is mode 000"
    );
    assert_eq!(list[0]["reason"], "mailer found by scan");
    let id = list[0]["id"].to_string();

    let o = unlisted(dir.path(), &["quarantine", "restore", &id]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let after = std::fs::metadata(&f).unwrap();
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "<?php exit; /* test */\n"
    );
    assert_eq!(after.mode() & 0o7777, 0o644);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_eq!(
        (after.mtime(), after.mtime_nsec()),
        (before.mtime(), before.mtime_nsec())
    );
    let o = unlisted(dir.path(), &["quarantine", "restore", &id]);
    assert_eq!(o.status.code(), Some(2), "restored twice");
}

/// Debian's WordPress, unpacked by the test command.
fn debian_wordpress() -> std::path::PathBuf {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/clean-php");
    let pkg = std::fs::read_dir(&base)
        .expect("target/clean-php (unpacked by scripts/test.sh)")
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("wordpress_")
        })
        .expect("the wordpress package in target/clean-php");
    pkg.join("usr/share/wordpress")
}

/// `site/` in `dir`: a copy of Debian's WordPress, with its times.
fn copy_of_debian_wordpress(dir: &TempDir) -> std::path::PathBuf {
    let site = dir.path().join("site");
    let ok = std::process::Command::new("cp")
        .arg("-a")
        .arg(debian_wordpress())
        .arg(&site)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    site
}

/// `unlisted scan --json --wp-pristine DEBIAN_WORDPRESS site` in `dir`.
fn scan_against_pristine(dir: &TempDir) -> std::process::Output {
    let pristine = debian_wordpress();
    unlisted(
        dir.path(),
        &[
            "scan",
            "--json",
            "--wp-pristine",
            pristine.to_str().unwrap(),
            "site",
        ],
    )
}

#[test]
fn wordpress_core_integrity_finds_modified_and_added_files() {
    let dir = TempDir::new("wp-integrity");
    let site = copy_of_debian_wordpress(&dir);
    // A backdoored core file and a file dropped into wp-includes.
    let load = site.join("wp-load.php");
    let mut text = std::fs::read_to_string(&load).unwrap();
    text.push_str("\n/* test: an injected line */ if (isset($_COOKIE['k'])) { $x = 1; }\n");
    std::fs::write(&load, text).unwrap();
    dir.write(
        "site/wp-includes/class-wp-cache-helper.php",
        "<?php /* test: dropped file */\n",
    );

    let o = scan_against_pristine(&dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let rule_of = |suffix: &str| {
        lines
            .iter()
            .filter(|l| l["type"] == "finding" && l["path"].as_str().unwrap().ends_with(suffix))
            .map(|l| {
                (
                    l["rule"].as_str().unwrap().to_string(),
                    l["severity"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert!(
        rule_of("/wp-load.php")
            .contains(&("integrity:modified_core_file".into(), "malicious".into()))
    );
    assert!(
        rule_of("/class-wp-cache-helper.php")
            .contains(&("integrity:added_core_file".into(), "suspicious".into()))
    );
    let summary = lines.last().unwrap();
    let wp = &summary["wordpress"][0];
    assert_eq!(wp["version"], "6.1.9");
    assert_eq!(wp["modified"], 1);
    assert_eq!(wp["added"], 1);
    assert!(wp["verified"].as_u64().unwrap() > 1500, "{wp}");
    // Verified core files are not read again by the rules.
    assert!(summary["files"].as_u64().unwrap() < 1000, "{summary}");

    // The same against a checksum file in the API's format.
    let pristine = debian_wordpress();
    let sums = dir.path().join("checksums.json");
    let py = format!(
        "import hashlib,json,os\nroot={:?}\nout={{}}\nfor d,_,fs in os.walk(root):\n  for f in fs:\n    p=os.path.join(d,f)\n    r=os.path.relpath(p,root)\n    if r.startswith('wp-content/') or r=='wp-config.php' or os.path.islink(p): continue\n    out[r]=hashlib.md5(open(p,'rb').read()).hexdigest()\njson.dump({{'checksums':{{'6.1.9':out}}}},open({:?},'w'))\n",
        pristine.to_str().unwrap(),
        sums.to_str().unwrap()
    );
    let ok = std::process::Command::new("python3")
        .args(["-c", &py])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let o = unlisted(
        dir.path(),
        &[
            "scan",
            "--json",
            "--wp-checksums",
            sums.to_str().unwrap(),
            "site",
        ],
    );
    let lines = json_lines(&o);
    let wp = &lines.last().unwrap()["wordpress"][0];
    assert_eq!(
        (wp["modified"].as_u64(), wp["added"].as_u64()),
        (Some(1), Some(1)),
        "{wp}"
    );
    // Without a reference the install is listed, and said to be unchecked.
    let o = unlisted(dir.path(), &["scan", "--json", "site"]);
    let lines = json_lines(&o);
    let wp = &lines.last().unwrap()["wordpress"][0];
    assert!(
        wp["problem"].as_str().unwrap().starts_with("not checked"),
        "{wp}"
    );
}

#[test]
fn trace_builds_the_timeline_of_a_dropped_mailer() {
    let dir = TempDir::new("trace");
    let script = dir.write(
        "home/bob/public_html/wp-content/uploads/2026/11/x7.php",
        "<?php exit; /* test */\n",
    );
    dir.write(
        "home/bob/public_html/wp-content/plugins/forms/upload.php",
        "<?php /* test */\n",
    );
    let ctime = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&script).unwrap().ctime()
    };
    // Access-log times relative to the file's ctime, in CLF.
    let clf = |secs: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%d/%b/%Y:%H:%M:%S +0000"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let mut log = String::new();
    let line = |ip: &str, t: i64, req: &str, status: u16| {
        format!(
            "{ip} - - [{}] \"{req} HTTP/1.1\" {status} 100 \"-\" \"Mozilla/5.0\"\n",
            clf(t)
        )
    };
    log += &line("198.51.100.1", ctime - 7200, "GET /", 200);
    log += &line(
        "203.0.113.66",
        ctime - 120,
        "POST /wp-admin/admin-ajax.php?action=forms_upload",
        200,
    );
    log += &line(
        "203.0.113.66",
        ctime - 60,
        "POST /wp-content/plugins/forms/upload.php",
        200,
    );
    log += &line(
        "203.0.113.66",
        ctime + 30,
        "GET /wp-content/uploads/2026/11/x7.php",
        200,
    );
    // Forty POSTs within one minute (aligned, so they fall in the same one).
    let minute = (ctime + 600) / 60 * 60;
    for i in 0..40 {
        log += &line(
            "203.0.113.66",
            minute + i,
            "POST /wp-content/uploads/2026/11/x7.php",
            200,
        );
    }
    log += &line(
        "192.0.2.7",
        ctime + 900,
        "POST /wp-content/uploads/2026/11/x7.php",
        200,
    );
    log += "this line is not a request\n";
    dir.write("access.log", &log);
    let trace = |extra: &[&str]| {
        let args = [
            "trace",
            "home/bob/public_html/wp-content/uploads/2026/11/x7.php",
            "--access-log",
            "access.log",
        ];
        unlisted(dir.path(), &[&args[..], extra].concat())
    };
    let o = trace(&["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = &json_lines(&o)[0];
    assert_eq!(t["url_path"], "/wp-content/uploads/2026/11/x7.php");
    assert_eq!(t["requests"], 42);
    assert_eq!(t["first"]["ip"], "203.0.113.66");
    assert_eq!(t["first"]["method"], "GET");
    assert_eq!(t["last"]["ip"], "192.0.2.7");
    assert_eq!(t["clients"]["203.0.113.66"], 41);
    assert_eq!(t["peak_posts_minute"][1], 40);
    let around: Vec<(String, String)> = t["around"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a[0].as_str().unwrap().to_string(),
                a[1]["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        around,
        [
            (
                "ajax".to_string(),
                "/wp-admin/admin-ajax.php?action=forms_upload".to_string()
            ),
            (
                "upload".to_string(),
                "/wp-content/plugins/forms/upload.php".to_string()
            )
        ]
    );
    assert!(
        t["changed_files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f[0].as_str().unwrap().ends_with("forms/upload.php"))
    );

    // The mail log of the same server: the script's messages line up with
    // the POSTs to it; another script's mail does not count.
    let local = |secs: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{secs}"), "+%F %T"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let uploads = dir
        .path()
        .join("home/bob/public_html/wp-content/uploads/2026/11");
    let contact = dir.path().join("home/bob/public_html/contact");
    let mut mail = String::new();
    let sends: Vec<(i64, &Path)> = (0..30)
        .map(|i| (minute + i, uploads.as_path()))
        .chain((0..5).map(|i| (minute + 60 + i, uploads.as_path())))
        .chain((0..3).map(|i| (ctime + 5000 + i, uploads.as_path())))
        .chain((0..4).map(|i| (minute + i, contact.as_path())))
        .collect();
    for (n, (at, cwd)) in sends.iter().enumerate() {
        let t = local(*at);
        let id = crate::logs::exim_id(n);
        mail += &format!(
            "{t} cwd={} 4 args: /usr/sbin/sendmail -t -i -fwp@bob.example\n",
            cwd.display()
        );
        mail += &format!(
            "{t} {id} <= wp@bob.example U=bob P=local S=2100 T=\"Parcel\" for r{n}@example.net r{n}@example.org\n"
        );
        mail += &format!(
            "{t} {id} => r{n}@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.30] C=\"250 OK\"\n"
        );
        mail += &format!(
            "{t} {id} => r{n}@example.org R=dnslookup T=remote_smtp H=mx.example.org [198.51.100.31] C=\"250 OK\"\n"
        );
        mail += &format!("{t} {id} Completed\n");
    }
    dir.write("exim_mainlog", &mail);
    let o = trace(&["--json", "--mail-log", "exim_mainlog"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let m = &json_lines(&o)[0]["mail"];
    assert_eq!(m["messages"], 38, "{m}");
    assert_eq!(m["recipients"], 76);
    assert_eq!(m["after_posts"], 35);
    assert_eq!(m["peak_minute"], serde_json::json!([minute, 30]));
    assert!(
        m["minutes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!([minute, 40, 30]))
    );
    let o = trace(&["--mail-log", "exim_mainlog"]);
    let out = crate::stdout(&o);
    assert!(
        out.contains("mail from it: 38 messages to 76 recipients"),
        "{out}"
    );
    assert!(
        out.contains("35 sent in a minute with a POST to it"),
        "{out}"
    );
    assert_eq!(t["lines_not_understood"], 1);
}

#[test]
fn plugins_and_themes_are_listed_and_checked_against_a_vulnerability_feed() {
    let dir = TempDir::new("wp-vulns");
    dir.write(
        "site/wp-includes/version.php",
        "<?php\n$wp_version = '6.4.2';\n",
    );
    std::fs::create_dir_all(dir.path().join("site/wp-admin")).unwrap();
    dir.write(
        "site/wp-content/plugins/contact-form-x/contact-form-x.php",
        "<?php\n/*\n * Plugin Name: Contact Form X\n * Version: 5.3.1\n */\n",
    );
    dir.write(
        "site/wp-content/plugins/safe-one/safe.php",
        "<?php\n/*\nPlugin Name: Safe One\nVersion: 2.0\n*/\n",
    );
    dir.write(
        "site/wp-content/themes/shop/style.css",
        "/*\nTheme Name: Shop\nVersion: 1.2\n*/\n",
    );
    // A feed in the Wordfence Intelligence shape (test data, invented ids).
    dir.write(
        "feed.json",
        r#"{"00000000-test-0001": {"id": "00000000-test-0001", "title": "Contact Form X <= 5.3.1 - Unauthenticated Arbitrary File Upload",
            "software": [{"type": "plugin", "slug": "contact-form-x", "affected_versions": {"* - 5.3.1": {"from_version": "*", "from_inclusive": true, "to_version": "5.3.1", "to_inclusive": true}}, "patched": true, "patched_versions": ["5.3.2"]}],
            "cve": "CVE-0000-00001", "cvss": {"score": 9.8, "rating": "Critical"}},
          "00000000-test-0002": {"id": "00000000-test-0002", "title": "Safe One < 2.0 - XSS",
            "software": [{"type": "plugin", "slug": "safe-one", "affected_versions": {"* - 2.0": {"from_version": "*", "from_inclusive": true, "to_version": "2.0", "to_inclusive": false}}, "patched_versions": ["2.0"]}]}}"#,
    );
    let o = unlisted(
        dir.path(),
        &["scan", "--json", "--vuln-feed", "feed.json", "site"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines = json_lines(&o);
    let wp = &lines.last().unwrap()["wordpress"][0];
    assert_eq!(wp["version"], "6.4.2");
    let comps = wp["components"].as_array().unwrap();
    let find = |slug: &str| comps.iter().find(|c| c["slug"] == slug).unwrap();
    assert_eq!(find("contact-form-x")["version"], "5.3.1");
    assert_eq!(
        find("contact-form-x")["vulnerabilities"][0]["cve"],
        "CVE-0000-00001"
    );
    assert_eq!(
        find("contact-form-x")["vulnerabilities"][0]["patched"][0],
        "5.3.2"
    );
    assert_eq!(
        find("safe-one")["vulnerabilities"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "2.0 is the fix"
    );
    assert_eq!(find("shop")["kind"], "theme");
    assert_eq!(find("shop")["version"], "1.2");
    let o = unlisted(dir.path(), &["scan", "--vuln-feed", "feed.json", "site"]);
    assert!(
        crate::stdout(&o).contains("plugin contact-form-x 5.3.1: Contact Form X <= 5.3.1"),
        "{}",
        crate::stdout(&o)
    );
    // A feed that is not JSON is reported, the scan still runs.
    dir.write("bad.json", "not json");
    let o = unlisted(
        dir.path(),
        &["scan", "--json", "--vuln-feed", "bad.json", "site"],
    );
    assert_eq!(o.status.code(), Some(2));
    let lines = json_lines(&o);
    assert!(
        lines.last().unwrap()["errors"][0]
            .as_str()
            .unwrap()
            .contains("bad.json is not JSON")
    );
}

/// `{"plugin", "version", "files": {path: {"md5", "sha256"}}}` for every
/// file under `dir`, as downloads.wordpress.org/plugin-checksums serves
/// it (hashes computed here with coreutils from Debian's pristine copy).
fn plugin_checksums_json(dir: &Path, slug: &str, version: &str) -> String {
    let out = std::process::Command::new("find")
        .arg(".")
        .args(["-type", "f", "-exec", "sh", "-c"])
        .arg(r#"for f; do printf '%s %s %s\n' "${f#./}" "$(md5sum < "$f" | cut -d' ' -f1)" "$(sha256sum < "$f" | cut -d' ' -f1)"; done"#)
        .args(["sh", "{}", "+"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut files = serde_json::Map::new();
    for (i, line) in String::from_utf8(out.stdout).unwrap().lines().enumerate() {
        let mut f = line.split(' ');
        let (path, md5, sha) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        // The API lists several hashes for a file rebuilt between zips.
        let sha = if i == 0 {
            serde_json::json!([sha, "0".repeat(64)])
        } else {
            serde_json::json!(sha)
        };
        files.insert(path.into(), serde_json::json!({"md5": md5, "sha256": sha}));
    }
    serde_json::json!({"plugin": slug, "version": version, "files": files}).to_string()
}

#[test]
fn plugins_are_checked_against_their_release_checksums() {
    let dir = TempDir::new("wp-plugin-sums");
    let pristine = debian_wordpress().join("wp-content/plugins/akismet");
    dir.write(
        "site/wp-includes/version.php",
        "<?php\n$wp_version = '6.1.9';\n",
    );
    std::fs::create_dir_all(dir.path().join("site/wp-admin")).unwrap();
    std::fs::create_dir_all(dir.path().join("site/wp-content/plugins")).unwrap();
    let plugin = dir.path().join("site/wp-content/plugins/akismet");
    assert!(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(&pristine)
            .arg(&plugin)
            .status()
            .unwrap()
            .success()
    );
    let version = std::fs::read_to_string(plugin.join("akismet.php"))
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version: ").map(str::to_string))
        .expect("akismet's Version header");
    dir.write(
        &format!("sums/akismet/{version}.json"),
        &plugin_checksums_json(&pristine, "akismet", &version),
    );
    // Backdoored PHP, an edited readme, a dropped file; and a plugin
    // nobody has checksums for.
    let class = plugin.join("class.akismet.php");
    let mut text = std::fs::read_to_string(&class).unwrap();
    text.push_str("\n/* test: an injected line */ if (isset($_COOKIE['k'])) { $x = 1; }\n");
    std::fs::write(&class, text).unwrap();
    std::fs::write(plugin.join("readme.txt"), "edited by the site owner\n").unwrap();
    dir.write(
        "site/wp-content/plugins/akismet/_inc/cache-helper.php",
        "<?php /* test: dropped file */\n",
    );
    dir.write(
        "site/wp-content/plugins/in-house/in-house.php",
        "<?php\n/*\nPlugin Name: In House\nVersion: 1.0\n*/\n",
    );

    let o = unlisted(
        dir.path(),
        &["scan", "--json", "--wp-plugin-checksums", "sums", "site"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let rule_of = |path: &str| -> Vec<(String, String)> {
        lines
            .iter()
            .filter(|l| l["type"] == "finding" && l["path"].as_str().unwrap().ends_with(path))
            .map(|l| {
                (
                    l["rule"].as_str().unwrap().to_string(),
                    l["severity"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert!(
        rule_of("akismet/class.akismet.php")
            .contains(&("integrity:modified_plugin_file".into(), "malicious".into())),
        "{lines:?}"
    );
    assert!(
        rule_of("akismet/readme.txt")
            .contains(&("integrity:modified_plugin_file".into(), "suspicious".into()))
    );
    assert!(
        rule_of("akismet/_inc/cache-helper.php")
            .contains(&("integrity:added_plugin_file".into(), "suspicious".into()))
    );
    let summary = lines.last().unwrap();
    let comps = summary["wordpress"][0]["components"].as_array().unwrap();
    let akismet = comps.iter().find(|c| c["slug"] == "akismet").unwrap();
    let files = std::fs::read_dir(&pristine).unwrap().count();
    assert!(files > 3);
    assert_eq!(akismet["integrity"]["modified"], 2);
    assert_eq!(akismet["integrity"]["added"], 1);
    assert_eq!(akismet["integrity"]["missing"], 0);
    assert!(akismet["integrity"]["verified"].as_u64().unwrap() >= 5);
    let in_house = comps.iter().find(|c| c["slug"] == "in-house").unwrap();
    assert_eq!(
        in_house["integrity"]["problem"],
        "no checksums for in-house 1.0"
    );
    // Verified files are left out of the rule scan; the others are counted.
    let scanned = summary["files"].as_u64().unwrap();
    let verified = akismet["integrity"]["verified"].as_u64().unwrap();
    let total = std::process::Command::new("find")
        .args(["site", "-type", "f"])
        .current_dir(dir.path())
        .output()
        .unwrap()
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count() as u64;
    assert_eq!(scanned, total - verified);

    // A checksum file that is not JSON is an error; the others still count.
    dir.write("sums/broken.json", "not json");
    let o = unlisted(
        dir.path(),
        &["scan", "--wp-plugin-checksums", "sums", "site"],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = crate::stdout(&o);
    assert!(out.contains("broken.json is not JSON"), "{out}");
    assert!(
        out.contains(&format!(
            "plugin akismet {version}: 2 files modified, 1 added, 0 missing"
        )),
        "{out}"
    );
}

#[test]
fn hostile_trees_neither_hang_nor_crash_and_the_good_data_is_kept() {
    let dir = TempDir::new("scan-hostile");
    let site = dir.path().join("site");
    dir.write("site/index.php", "<?php echo 'hello';\n");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sitescan/testdata/malicious/php_mass_mailer--leaf.php");
    dir.write(
        "site/wp-content/uploads/x.php",
        &std::fs::read_to_string(sample).unwrap(),
    );
    // Symlink loops.
    std::os::unix::fs::symlink(".", site.join("loop")).unwrap();
    std::os::unix::fs::symlink("..", site.join("wp-content/up")).unwrap();
    // A 10 GB sparse file (takes no disk).
    std::fs::File::create(site.join("huge.sql"))
        .unwrap()
        .set_len(10 << 30)
        .unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(site.join("pipe"))
            .status()
            .unwrap()
            .success()
    );
    // Unreadable: a file and a directory.
    use std::os::unix::fs::PermissionsExt;
    let secret = dir.write("site/secret.php", "<?php /* test */\n");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    dir.write("site/private/a.php", "<?php /* test */\n");
    std::fs::set_permissions(site.join("private"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads everything, so as root the scan runs as nobody (as a
    // site's own user would); `timeout` turns a hang into a failure.
    let mut cmd = std::process::Command::new("timeout");
    cmd.arg("60");
    if is_root() {
        for p in [dir.path(), site.as_path()] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        cmd.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]);
    }
    let o = cmd
        .arg(env!("CARGO_BIN_EXE_unlisted"))
        .args(["scan", "--json", "site"])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    assert!(
        lines.iter().any(|l| l["rule"] == "unlisted:php_mass_mailer"
            && l["path"].as_str().unwrap().ends_with("uploads/x.php")),
        "the mailer beside the traps was not found: {lines:?}"
    );
    let summary = lines.last().unwrap();
    let skipped = summary["skipped"].to_string();
    assert!(
        skipped.contains("site/loop: a symlink (not followed)"),
        "{skipped}"
    );
    assert!(skipped.contains("wp-content/up: a symlink"), "{skipped}");
    assert!(
        skipped.contains("huge.sql: 10737418240 bytes, over the 16777216-byte limit"),
        "{skipped}"
    );
    assert!(skipped.contains("pipe: not a regular file"), "{skipped}");
    let errors = summary["errors"].to_string();
    assert!(errors.contains("secret.php: cannot read"), "{errors}");
    assert!(errors.contains("site/private: cannot list"), "{errors}");
    // Let the temp dir be removed.
    std::fs::set_permissions(site.join("private"), std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[test]
fn every_planted_sample_is_found_in_a_copied_wordpress_and_nothing_else() {
    let dir = TempDir::new("wp-planted");
    let site = copy_of_debian_wordpress(&dir);
    // Each sample where attackers put that kind of file.
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sitescan/testdata/malicious");
    let place = |name: &str| -> &'static str {
        match name.split("--").next().unwrap() {
            "htaccess_php_handler_for_images" => "wp-content/uploads/.htaccess",
            "htaccess_or_userini_prepend" => ".user.ini",
            "cron_download_and_run" => "wp-content/cache/crontab.txt",
            "seo_spam_hidden_links" => "wp-content/themes/twentytwentythree/footer-links.html",
            "php_hidden_in_image" => "wp-content/uploads/2026/11/logo.gif",
            "php_known_webshell_markers" => "wp-includes/class-wp-locale-helper.php",
            "php_uploader_dropper" => "wp-content/plugins/akismet/_inc/up.php",
            _ => "wp-content/uploads/2026/11/",
        }
    };
    let mut planted = Vec::new();
    for e in std::fs::read_dir(&samples).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some((rule, _)) = name.split_once("--") else {
            continue;
        };
        let mut to = place(&name).to_string();
        if to.ends_with('/') || planted.iter().any(|(_, p): &(String, String)| *p == to) {
            to = format!("wp-content/uploads/2026/11/{name}");
        }
        let dest = site.join(&to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(e.path(), &dest).unwrap();
        planted.push((format!("unlisted:{rule}"), to));
    }
    assert!(planted.len() >= 15);
    let o = scan_against_pristine(&dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let lines = json_lines(&o);
    let findings: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["type"] == "finding").collect();
    for (rule, to) in &planted {
        let path = format!("site/{to}");
        assert!(
            findings
                .iter()
                .any(|f| f["path"] == path.as_str() && f["rule"] == rule.as_str()),
            "{to}: {rule} did not match"
        );
    }
    // Nothing of WordPress itself is malicious: every malicious finding
    // is a planted file (or the core file that now holds a webshell).
    for f in findings.iter().filter(|f| f["severity"] == "malicious") {
        let p = f["path"].as_str().unwrap();
        assert!(
            planted.iter().any(|(_, to)| format!("site/{to}") == p),
            "a clean WordPress file was called malicious: {f}"
        );
    }
}
