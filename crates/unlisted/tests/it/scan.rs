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
