//! `unlisted scan [--json] [--rules DIR] PATH...`: look for what an
//! attacker left in a site. Exit 1 when anything is malicious.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::Global;
use crate::output::{self, Exit};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Docroots, home directories or single files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Extra YARA rule packs: every .yar/.yara file of DIR, each in its own
    /// namespace (php-malware-finder, signature-base, your own).
    #[arg(long, value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// Files larger than this many bytes are skipped (and listed).
    #[arg(long, default_value_t = 16 * 1024 * 1024)]
    max_size: u64,
    /// Check WordPress core files against these checksums (the JSON of
    /// api.wordpress.org/core/checksums/1.0, saved to a file).
    #[arg(long, value_name = "FILE", conflicts_with = "wp_pristine")]
    wp_checksums: Option<PathBuf>,
    /// Check WordPress core files against a pristine copy of the release.
    #[arg(long, value_name = "DIR")]
    wp_pristine: Option<PathBuf>,
    /// Check WordPress plugins against their releases' checksums: a
    /// directory of downloads.wordpress.org/plugin-checksums/SLUG/VERSION.json
    /// files, saved as SLUG/VERSION.json (or flat, named anything).
    #[arg(long, value_name = "DIR")]
    wp_plugin_checksums: Option<PathBuf>,
    /// Check WordPress plugins' and themes' versions against this
    /// vulnerability feed (Wordfence Intelligence JSON, saved to a file).
    #[arg(long, value_name = "FILE")]
    vuln_feed: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Show suspicious findings too (always in --json).
    #[arg(long)]
    all: bool,
    /// JSON Lines: one finding per line, then a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct FindingJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    f: &'a sitescan::Finding,
    mtime_at: String,
    ctime_at: String,
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(flatten)]
    s: &'a sitescan::Summary,
    seconds: f64,
}

pub(crate) fn run(_g: &Global, a: Args) -> Result<Exit> {
    let rules = sitescan::RuleSet::load(&a.rules)?;
    let mut opts = sitescan::Options {
        max_size: a.max_size,
        ..sitescan::Options::default()
    };
    if let Some(t) = a.threads {
        opts.threads = t.max(1);
    }
    opts.vuln_feed = a.vuln_feed.clone();
    opts.plugin_checksums = a.wp_plugin_checksums.clone();
    opts.wordpress = match (&a.wp_checksums, &a.wp_pristine) {
        (Some(f), _) => Some(sitescan::WordPressSource::Checksums(f.clone())),
        (None, Some(d)) => Some(sitescan::WordPressSource::Pristine(d.clone())),
        _ => None,
    };
    let started = std::time::Instant::now();
    let (findings, summary) = sitescan::scan(&a.paths, &rules, &opts);
    let seconds = started.elapsed().as_secs_f64();
    if a.json {
        for f in &findings {
            output::json(&FindingJson {
                ty: "finding",
                f,
                mtime_at: output::time(f.mtime),
                ctime_at: output::time(f.ctime),
            })?;
        }
        output::json(&SummaryJson {
            ty: "summary",
            s: &summary,
            seconds,
        })?;
    } else {
        for f in findings
            .iter()
            .filter(|f| a.all || f.severity == sitescan::Severity::Malicious)
        {
            print_finding(f, "")?;
        }
        output::line(&format!(
            "{} files ({} bytes) in {seconds:.1} s: {} malicious findings in {} files, {} suspicious{}; {} skipped, {} unreadable",
            summary.files,
            summary.bytes,
            summary.malicious,
            summary.malicious_files,
            summary.suspicious,
            if a.all { "" } else { " (--all shows them)" },
            summary.skipped.len(),
            summary.errors.len()
        ))?;
        for w in &summary.wordpress {
            let what = match &w.problem {
                Some(p) => p.clone(),
                None => format!(
                    "{} core files modified, {} added, {} missing, {} verified",
                    w.modified, w.added, w.missing, w.verified
                ),
            };
            output::line(&format!(
                "WordPress {} at {}: {what}",
                w.version.as_deref().unwrap_or("?"),
                w.root.display()
            ))?;
            for c in &w.components {
                if let Some(i) = &c.integrity {
                    let what = match &i.problem {
                        Some(p) => format!("not checked: {p}"),
                        None => format!(
                            "{} files modified, {} added, {} missing, {} verified",
                            i.modified, i.added, i.missing, i.verified
                        ),
                    };
                    output::line(&format!(
                        "  {} {} {}: {what}",
                        c.kind,
                        c.slug,
                        c.version.as_deref().unwrap_or("?")
                    ))?;
                }
                for v in &c.vulnerabilities {
                    output::line(&format!(
                        "  {} {} {}: {} ({}{}); fixed in {}",
                        c.kind,
                        c.slug,
                        c.version.as_deref().unwrap_or("?"),
                        v.title,
                        v.cve.as_deref().unwrap_or("no CVE"),
                        v.cvss
                            .as_deref()
                            .map(|r| format!(", {r}"))
                            .unwrap_or_default(),
                        if v.patched.is_empty() {
                            "no release yet".to_string()
                        } else {
                            v.patched.join(", ")
                        }
                    ))?;
                }
            }
        }
        for e in summary.errors.iter().chain(&summary.skipped) {
            output::line(&format!("  {e}"))?;
        }
    }
    Ok(if summary.malicious > 0 {
        Exit::Found
    } else if summary.errors.is_empty() {
        Exit::Clean
    } else {
        Exit::Failed
    })
}

/// One finding for people: path, severity, rule, description and where
/// it matched; each line after `indent`.
pub(crate) fn print_finding(f: &sitescan::Finding, indent: &str) -> Result<()> {
    output::line(&format!(
        "{indent}{}  {:<10} {}  {}",
        f.path.display(),
        match f.severity {
            sitescan::Severity::Malicious => "MALICIOUS",
            sitescan::Severity::Suspicious => "suspicious",
        },
        f.rule,
        f.description
    ))?;
    if let Some(m) = f.matches.first() {
        output::line(&format!("{indent}    at byte {}: {}", m.offset, m.text))?;
    }
    Ok(())
}
