//! Our rules against the defanged samples of testdata/malicious (each
//! named RULE--case.ext: that rule must flag it), and the false-positive
//! gate: clean PHP from Debian's WordPress, MediaWiki, phpMyAdmin and
//! Roundcube packages (unpacked by the test command into
//! target/clean-php) must give no `malicious` finding at all.

use std::path::{Path, PathBuf};

use sitescan::{Options, RuleSet, Severity, scan};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/malicious")
}

fn builtin() -> RuleSet {
    RuleSet::load(&[] as &[PathBuf]).unwrap()
}

#[test]
fn every_sample_is_flagged_by_its_rule() {
    let (findings, summary) = scan(&[samples()], &builtin(), &Options::default());
    assert!(summary.errors.is_empty(), "{:?}", summary.errors);
    let mut names: Vec<String> = std::fs::read_dir(samples())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("--"))
        .collect();
    names.sort();
    assert!(names.len() >= 14);
    for n in &names {
        let rule = format!("unlisted:{}", n.split("--").next().unwrap());
        let of_file = |f: &&sitescan::Finding| f.path.file_name().unwrap().to_string_lossy() == *n;
        let Some(hit) = findings.iter().filter(of_file).find(|f| f.rule == rule) else {
            let got: Vec<_> = findings
                .iter()
                .filter(of_file)
                .map(|f| f.rule.clone())
                .collect();
            panic!("{n}: {rule} did not match (got {got:?})");
        };
        assert!(!hit.matches.is_empty(), "{n}: no excerpt");
        assert_eq!(hit.sha256.len(), 64);
    }
    assert!(summary.malicious_files >= 10);
}

#[test]
fn the_walk_skips_symlinks_special_and_oversized_files_and_names_them() {
    let dir = testsupport::TempDir::new("scanwalk");
    let d = dir.path();
    dir.write("site/index.php", "<?php echo 'hello';\n");
    dir.write("site/big.php", &"x".repeat(5000));
    std::os::unix::fs::symlink("/etc", d.join("site/etc-link")).unwrap();
    std::os::unix::fs::symlink(
        samples().join("php_mass_mailer--leaf.php"),
        d.join("site/leaf.php"),
    )
    .unwrap();
    let fifo = d.join("site/pipe");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let opts = Options {
        max_size: 4096,
        threads: 2,
        ..Options::default()
    };
    let (findings, summary) = scan(&[d.join("site")], &builtin(), &opts);
    // (index.php may get a weak "temporary directory" signal: the test
    // tree lives under /tmp.)
    assert!(
        findings.iter().all(|f| f.path.ends_with("index.php")),
        "a symlinked sample was followed: {findings:?}"
    );
    assert_eq!(summary.files, 1, "only index.php is read");
    let skipped = summary.skipped.join("\n");
    assert!(
        skipped.contains("etc-link: a symlink (not followed)"),
        "{skipped}"
    );
    assert!(skipped.contains("leaf.php: a symlink"), "{skipped}");
    assert!(
        skipped.contains("big.php: 5000 bytes, over the 4096-byte limit"),
        "{skipped}"
    );
    assert!(skipped.contains("pipe: not a regular file"), "{skipped}");
    let (_, summary) = scan(&[d.join("missing")], &builtin(), &opts);
    assert!(
        summary.errors[0].contains("missing: cannot read"),
        "{:?}",
        summary.errors
    );
}

#[test]
fn extra_packs_keep_their_names_and_bad_packs_are_errors() {
    let dir = testsupport::TempDir::new("packs");
    dir.write(
        "packs/acme.yar",
        "rule AcmeHello { meta: author = \"ACME Labs\" strings: $a = \"hello-acme\" condition: $a }\n",
    );
    dir.write("site/x.txt", "say hello-acme\n");
    let rules = RuleSet::load(&[dir.path().join("packs")]).unwrap();
    let (findings, _) = scan(&[dir.path().join("site")], &rules, &Options::default());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, "acme:AcmeHello");
    assert_eq!(findings[0].author.as_deref(), Some("ACME Labs"));
    assert_eq!(
        findings[0].severity,
        Severity::Suspicious,
        "packs report suspicious unless they say"
    );
    dir.write("bad/broken.yar", "rule { nope\n");
    let e = RuleSet::load(&[dir.path().join("bad")]).err().unwrap();
    assert!(e.to_string().contains("broken.yar do not compile"), "{e}");
}

#[test]
fn clean_php_of_four_debian_packages_has_no_malicious_finding() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/clean-php");
    assert!(
        root.is_dir(),
        "{} is missing: the test command (scripts/test.sh) unpacks wordpress, mediawiki, phpmyadmin and roundcube-core there",
        root.display()
    );
    let (findings, summary) = scan(&[root], &builtin(), &Options::default());
    assert!(summary.files > 5000, "only {} files", summary.files);
    let bad: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Malicious)
        .map(|f| {
            format!(
                "{} {} {:?}",
                f.path.display(),
                f.rule,
                f.matches.first().map(|m| &m.text)
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} false positives:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
