//! Finds what an attacker left in a customer's site: mailers, webshells,
//! obfuscated droppers, PHP hidden in images, `.htaccess` tricks, SEO spam
//! and malicious cron lines. yara-x matches our own rule set
//! (`catalog/rules/unlisted.yar`, compiled in) and any extra packs; a few
//! heuristics add weak signals. The walk never follows a symlink, never
//! reads special files, caps the size it reads, and reports what it could
//! not read.

pub mod heuristics;
pub mod quarantine;
pub mod rules;
pub mod trace;
pub mod walk;
pub mod wordpress;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use rules::{RuleSet, RulesError};

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A weak sign: look at it.
    Suspicious,
    /// High confidence: act on it.
    Malicious,
}

/// One place a rule matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    pub offset: usize,
    pub length: usize,
    /// The matched bytes (and a little context), printable, at most 160
    /// characters.
    pub text: String,
}

/// One finding in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub path: PathBuf,
    /// `unlisted:php_mass_mailer`, `PACK:RuleName`, `heuristic:…`.
    pub rule: String,
    pub severity: Severity,
    pub family: String,
    pub description: String,
    /// Who wrote the rule (an extra pack's `author` meta).
    pub author: Option<String>,
    pub matches: Vec<Excerpt>,
    pub size: u64,
    pub uid: u32,
    pub mtime: i64,
    pub ctime: i64,
    pub sha256: String,
}

/// Where WordPress core files are checked against.
#[derive(Debug, Clone)]
pub enum WordPressSource {
    /// A checksum JSON file (one release, or several keyed by version).
    Checksums(PathBuf),
    /// A pristine copy of the same release.
    Pristine(PathBuf),
}

/// Limits of a scan.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files larger than this are skipped (and reported).
    pub max_size: u64,
    pub threads: usize,
    /// Check WordPress installs' core files against this.
    pub wordpress: Option<WordPressSource>,
    /// A vulnerability feed (Wordfence Intelligence JSON) to check plugins
    /// and themes against.
    pub vuln_feed: Option<PathBuf>,
    /// A directory of plugin checksum files (downloads.wordpress.org's
    /// `plugin-checksums/SLUG/VERSION.json`) to check plugins against.
    pub plugin_checksums: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_size: 16 * 1024 * 1024,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            wordpress: None,
            vuln_feed: None,
            plugin_checksums: None,
        }
    }
}

/// One WordPress install and how its core compared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WordPressSummary {
    pub root: PathBuf,
    pub version: Option<String>,
    pub modified: usize,
    pub added: usize,
    pub missing: usize,
    pub verified: usize,
    /// Why it was not checked, when it was not.
    pub problem: Option<String>,
    /// Plugins and themes with their versions (and known vulnerabilities,
    /// with a feed).
    pub components: Vec<wordpress::Component>,
}

/// What a scan saw besides findings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    pub malicious: u64,
    pub suspicious: u64,
    /// Files with at least one malicious finding.
    pub malicious_files: u64,
    /// `path: why` for files left out (too large, special, symlink).
    pub skipped: Vec<String>,
    /// `path: error` for what could not be read.
    pub errors: Vec<String>,
    /// WordPress installs found (and their core integrity, when checked).
    pub wordpress: Vec<WordPressSummary>,
}

/// Scans `roots` with `rules`; findings come sorted by path.
pub fn scan(roots: &[PathBuf], rules: &RuleSet, opts: &Options) -> (Vec<Finding>, Summary) {
    let mut summary = Summary::default();
    let mut files = Vec::new();
    for root in roots {
        walk::collect(root, opts.max_size, &mut files, &mut summary);
    }
    let (mut pre, verified) = wordpress_checks(roots, opts, &mut summary);
    for (path, hit) in heuristics::late_ctimes(&files) {
        pre.entry(path).or_default().push(hit);
    }
    files.retain(|f| !verified.contains(f));
    let queue = Mutex::new(files.into_iter());
    let results = Mutex::new((Vec::new(), 0u64, 0u64, Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1) {
            s.spawn(|| {
                let mut scanner = rules.scanner();
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some(file) = next else { break };
                    let place = place_in_tree(roots, &file);
                    let outcome = scan_file(
                        &file,
                        &place,
                        opts.max_size,
                        rules,
                        &mut scanner,
                        pre.get(&file),
                    );
                    let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Ok((found, size)) => {
                            r.0.extend(found);
                            r.1 += 1;
                            r.2 += size;
                        }
                        Err(e) => r.3.push(format!("{}: {e}", file.display())),
                    }
                }
            });
        }
    });
    let (mut findings, n, bytes, errors) = results.into_inner().unwrap_or_else(|e| e.into_inner());
    findings.sort_by(|a: &Finding, b| a.path.cmp(&b.path).then(a.rule.cmp(&b.rule)));
    summary.files = n;
    summary.bytes = bytes;
    summary.errors.extend(errors);
    summary.errors.sort();
    summary.malicious = findings
        .iter()
        .filter(|f| f.severity == Severity::Malicious)
        .count() as u64;
    summary.suspicious = findings.len() as u64 - summary.malicious;
    let mut bad: Vec<&Path> = findings
        .iter()
        .filter(|f| f.severity == Severity::Malicious)
        .map(|f| f.path.as_path())
        .collect();
    bad.dedup();
    summary.malicious_files = bad.len() as u64;
    (findings, summary)
}

/// Where a file sits for the place heuristics: its path from the scanned
/// root's parent, so that where the operator put the tree (a copy under
/// /tmp, a hidden backup directory) does not count against every file,
/// while the root's own name (`uploads`) still does.
fn place_in_tree(roots: &[PathBuf], file: &Path) -> String {
    let base = roots
        .iter()
        .filter(|r| file.starts_with(r))
        .max_by_key(|r| r.as_os_str().len())
        .and_then(|r| r.parent());
    match base.and_then(|b| file.strip_prefix(b).ok()) {
        Some(rel) => format!("/{}", rel.display()),
        None => file.display().to_string(),
    }
}

/// Reads a file the walk found, checking again on the open file that it
/// is still a regular file within the cap: between the walk and the read
/// it may have been swapped for a symlink or a FIFO (which would block a
/// plain read forever) or have grown.
fn read_regular(path: &Path, max_size: u64) -> Result<(std::fs::Metadata, Vec<u8>), String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("changed into something other than a regular file; not read".into());
    }
    if meta.len() > max_size {
        return Err(format!(
            "grew to {} bytes, over the {max_size}-byte limit; not read",
            meta.len()
        ));
    }
    let mut data = Vec::with_capacity(meta.len() as usize);
    file.take(max_size)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok((meta, data))
}

/// Scans one file (read once, matched in memory).
fn scan_file(
    path: &Path,
    place: &str,
    max_size: u64,
    rules: &RuleSet,
    scanner: &mut yara_x::Scanner<'_>,
    pre: Option<&Vec<Hit>>,
) -> Result<(Vec<Finding>, u64), String> {
    use std::os::unix::fs::MetadataExt;
    let (meta, data) = read_regular(path, max_size)?;
    let mut found = rules.matches(scanner, &data)?;
    found.extend(heuristics::check(path, place, &data));
    found.extend(pre.into_iter().flatten().cloned());
    if found.is_empty() {
        return Ok((Vec::new(), data.len() as u64));
    }
    let sha256 = sha256_hex(&data);
    let out = found
        .into_iter()
        .map(|h| Finding {
            path: path.to_path_buf(),
            rule: h.rule,
            severity: h.severity,
            family: h.family,
            description: h.description,
            author: h.author,
            matches: h.matches,
            size: meta.size(),
            uid: meta.uid(),
            mtime: meta.mtime(),
            ctime: meta.ctime(),
            sha256: sha256.clone(),
        })
        .collect();
    Ok((out, data.len() as u64))
}

type PreHits = std::collections::HashMap<PathBuf, Vec<Hit>>;

/// WordPress core checks of every install under the roots: hits for
/// modified and added files, and the verified-clean files (left out of the
/// rule scan).
fn wordpress_checks(
    roots: &[PathBuf],
    opts: &Options,
    summary: &mut Summary,
) -> (PreHits, std::collections::HashSet<PathBuf>) {
    let mut pre = PreHits::new();
    let mut verified = std::collections::HashSet::new();
    let feed = match &opts.vuln_feed {
        Some(f) => match wordpress::VulnFeed::load(f) {
            Ok(feed) => Some(feed),
            Err(e) => {
                summary.errors.push(e);
                None
            }
        },
        None => None,
    };
    let plugin_sums = opts.plugin_checksums.as_ref().map(|dir| {
        let (sums, errors) = wordpress::PluginChecksums::load(dir);
        summary.errors.extend(errors);
        sums
    });
    for root in roots {
        for install in wordpress::find_installs(root) {
            let version = wordpress::version(&install);
            let mut components = wordpress::components(&install);
            if let Some(feed) = &feed {
                for c in &mut components {
                    c.vulnerabilities = feed.check(c);
                }
            }
            if let Some(sums) = &plugin_sums {
                for c in components.iter_mut().filter(|c| c.kind == "plugin") {
                    let dir = install.join("wp-content/plugins").join(&c.slug);
                    let r = sums.verify(&dir, &c.slug, c.version.as_deref());
                    let release = format!("{} {}", c.slug, c.version.as_deref().unwrap_or("?"));
                    for m in &r.modified {
                        // A changed PHP file of a released plugin is how
                        // backdoors hide; a changed readme is an edit.
                        let php = m.extension().is_some_and(|e| e == "php");
                        pre.entry(m.clone()).or_default().push(integrity_hit(
                            "integrity:modified_plugin_file",
                            if php {
                                Severity::Malicious
                            } else {
                                Severity::Suspicious
                            },
                            format!("differs from plugin {release} as released"),
                        ));
                    }
                    for a in &r.added {
                        pre.entry(a.clone()).or_default().push(integrity_hit(
                            "integrity:added_plugin_file",
                            Severity::Suspicious,
                            format!("not part of plugin {release} as released"),
                        ));
                    }
                    verified.extend(r.verified);
                    c.integrity = Some(r.summary);
                }
            }
            let mut ws = WordPressSummary {
                root: install.clone(),
                version: version.clone(),
                components,
                ..WordPressSummary::default()
            };
            let reference = match &opts.wordpress {
                None => {
                    ws.problem =
                        Some("not checked: no --wp-checksums or --wp-pristine given".into());
                    summary.wordpress.push(ws);
                    continue;
                }
                Some(WordPressSource::Pristine(p)) => Ok(wordpress::Reference::Pristine(p.clone())),
                Some(WordPressSource::Checksums(f)) => {
                    wordpress::Reference::checksums_file(f, version.as_deref())
                }
            };
            let reference = match reference {
                Ok(r) => r,
                Err(e) => {
                    ws.problem = Some(e);
                    summary.wordpress.push(ws);
                    continue;
                }
            };
            let r = wordpress::verify(&install, &reference);
            let v = version.as_deref().unwrap_or("?");
            for m in &r.modified {
                pre.entry(m.clone()).or_default().push(integrity_hit(
                    "integrity:modified_core_file",
                    Severity::Malicious,
                    format!("WordPress {v} core file differs from the release"),
                ));
            }
            for a in &r.added {
                pre.entry(a.clone()).or_default().push(integrity_hit(
                    "integrity:added_core_file",
                    Severity::Suspicious,
                    format!("not part of WordPress {v}, yet in wp-admin/ or wp-includes/"),
                ));
            }
            ws.modified = r.modified.len();
            ws.added = r.added.len();
            ws.missing = r.missing.len();
            ws.verified = r.verified.len();
            verified.extend(r.verified);
            summary.wordpress.push(ws);
        }
    }
    (pre, verified)
}

/// A finding of the WordPress integrity checks.
fn integrity_hit(rule: &str, severity: Severity, description: String) -> Hit {
    Hit {
        rule: rule.into(),
        severity,
        family: "integrity".into(),
        description,
        author: None,
        matches: Vec::new(),
    }
}

/// A rule or heuristic hit before file metadata is added.
#[derive(Debug, Clone)]
pub struct Hit {
    pub rule: String,
    pub severity: Severity,
    pub family: String,
    pub description: String,
    pub author: Option<String>,
    pub matches: Vec<Excerpt>,
}

/// SHA-256 of `data`, lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A printable excerpt of `data[start..end]` with a little context.
pub fn excerpt(data: &[u8], start: usize, end: usize) -> String {
    let from = start.saturating_sub(20);
    let to = (end + 20).min(data.len());
    let text: String = String::from_utf8_lossy(&data[from..to])
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    text.chars().take(160).collect()
}
