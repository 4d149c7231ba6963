//! WordPress core integrity: find the installs under a tree, read their
//! version, and compare every core file with a reference — the official
//! per-file checksums (the JSON of api.wordpress.org's
//! `core/checksums/1.0`, saved to a file) or a pristine copy of the same
//! release on disk. Modified core files and files added to `wp-admin/` or
//! `wp-includes/` are reported; files that match are verified clean and
//! skip the expensive checks. Plugins are checked the same way against
//! the per-release checksums of downloads.wordpress.org's
//! `plugin-checksums/SLUG/VERSION.json`, saved to a directory.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use md5::Digest;

/// What core files should be.
#[derive(Debug, Clone)]
pub enum Reference {
    /// Relative path → MD5 hex (one release).
    Checksums(BTreeMap<String, String>),
    /// A pristine copy of the release.
    Pristine(PathBuf),
}

impl Reference {
    /// Reads a checksum file: `{"checksums": {"path": "md5"}}` or the
    /// per-version form `{"checksums": {"6.1.9": {"path": "md5"}}}`.
    pub fn checksums_file(path: &Path, version: Option<&str>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let sums = &v["checksums"];
        let flat = |o: &serde_json::Map<String, serde_json::Value>| -> BTreeMap<String, String> {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_ascii_lowercase())))
                .collect()
        };
        let Some(obj) = sums.as_object() else {
            return Err(format!("{} has no \"checksums\" object", path.display()));
        };
        let map = if obj.values().all(|v| v.is_string()) {
            flat(obj)
        } else {
            let inner = match version {
                Some(ver) => obj.get(ver),
                None if obj.len() == 1 => obj.values().next(),
                None => None,
            };
            match inner.and_then(|i| i.as_object()) {
                Some(i) => flat(i),
                None => {
                    return Err(format!(
                        "{} has no checksums for version {}",
                        path.display(),
                        version.unwrap_or("?")
                    ));
                }
            }
        };
        if map.is_empty() {
            return Err(format!("{} holds no checksums", path.display()));
        }
        Ok(Reference::Checksums(map))
    }
}

/// One install's integrity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Integrity {
    pub root: PathBuf,
    pub version: Option<String>,
    /// Core files whose content differs.
    pub modified: Vec<PathBuf>,
    /// Files in wp-admin/ or wp-includes/ that are not core.
    pub added: Vec<PathBuf>,
    /// Core files that are gone.
    pub missing: Vec<String>,
    /// Files that match the reference (skip the expensive checks).
    pub verified: HashSet<PathBuf>,
}

/// Directories under `root` holding a WordPress install (a
/// `wp-includes/version.php`), without following symlinks.
pub fn find_installs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if dir.join("wp-includes/version.php").is_file() && dir.join("wp-admin").is_dir() {
            out.push(dir.clone());
            continue;
        }
        if depth >= 6 {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    out.sort();
    out
}

/// `$wp_version = '6.1.9';` of an install.
pub fn version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("wp-includes/version.php")).ok()?;
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("$wp_version"))?;
    let v = line.split(['\'', '"']).nth(1)?;
    Some(v.to_string())
}

fn md5_hex(data: &[u8]) -> String {
    md5::Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn files_under(root: &Path, rel: &str, out: &mut Vec<String>) {
    let dir = root.join(rel);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(t) = e.file_type() else { continue };
        let name = e.file_name().to_string_lossy().into_owned();
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if t.is_dir() {
            files_under(root, &child, out);
        } else if t.is_file() {
            out.push(child);
        }
    }
}

/// Compares one install with `reference`.
pub fn verify(root: &Path, reference: &Reference) -> Integrity {
    let mut r = Integrity {
        root: root.to_path_buf(),
        version: version(root),
        ..Integrity::default()
    };
    let core: Vec<String> = match reference {
        Reference::Checksums(m) => m.keys().cloned().collect(),
        Reference::Pristine(p) => {
            let mut v = Vec::new();
            files_under(p, "", &mut v);
            // wp-content and the config are the site's own.
            v.retain(|f| !f.starts_with("wp-content/") && f != "wp-config.php");
            v
        }
    };
    let core_set: HashSet<&str> = core.iter().map(String::as_str).collect();
    for rel in &core {
        let here = root.join(rel);
        let same = match reference {
            Reference::Checksums(m) => {
                std::fs::read(&here).ok().map(|d| md5_hex(&d)).as_ref() == m.get(rel)
            }
            Reference::Pristine(p) => match (std::fs::read(&here), std::fs::read(p.join(rel))) {
                (Ok(a), Ok(b)) => a == b,
                (Err(_), _) => {
                    r.missing.push(rel.clone());
                    continue;
                }
                _ => false,
            },
        };
        if !here.is_file() {
            if !r.missing.contains(rel) {
                r.missing.push(rel.clone());
            }
        } else if same {
            r.verified.insert(here);
        } else {
            r.modified.push(here);
        }
    }
    for top in ["wp-admin", "wp-includes"] {
        let mut here = Vec::new();
        files_under(root, top, &mut here);
        for rel in here {
            if !core_set.contains(rel.as_str()) {
                r.added.push(root.join(rel));
            }
        }
    }
    r.modified.sort();
    r.added.sort();
    r.missing.sort();
    r
}

/// A plugin or theme of an install.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Component {
    /// `plugin` or `theme`.
    pub kind: &'static str,
    pub slug: String,
    pub name: Option<String>,
    pub version: Option<String>,
    /// Known vulnerabilities of this version (with a feed).
    pub vulnerabilities: Vec<Vulnerability>,
    /// How its files compared with the release's checksums (plugins, with
    /// a checksum directory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integrity: Option<ComponentIntegrity>,
}

/// A plugin's files against its release's checksums.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ComponentIntegrity {
    pub verified: usize,
    pub modified: usize,
    pub added: usize,
    pub missing: usize,
    /// Why it was not checked, when it was not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Per-file checksums of plugin releases, keyed by slug and version.
#[derive(Debug, Clone, Default)]
pub struct PluginChecksums {
    /// (slug, version) → relative path → accepted hashes (MD5 or SHA-256,
    /// lowercase hex; a release can list more than one per file).
    releases: std::collections::HashMap<(String, String), ReleaseSums>,
}

/// A release's relative path → accepted hashes.
type ReleaseSums = BTreeMap<String, Vec<String>>;

impl PluginChecksums {
    /// Reads every `.json` file under `dir` (one level of subdirectories:
    /// `SLUG/VERSION.json` as saved from the API, or flat files). Slug and
    /// version come from the file's `plugin` and `version` fields, else
    /// from its directory and name. Files that are not checksum JSON are
    /// returned as errors; the others still load.
    pub fn load(dir: &Path) -> (Self, Vec<String>) {
        let mut out = PluginChecksums::default();
        let mut errors = Vec::new();
        let mut files = Vec::new();
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        for f in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                            files.push(f.path());
                        }
                    } else {
                        files.push(p);
                    }
                }
            }
            Err(e) => errors.push(format!("cannot read {}: {e}", dir.display())),
        }
        files.retain(|f| f.extension().is_some_and(|x| x == "json"));
        files.sort();
        for f in files {
            match Self::read_release(&f) {
                Ok((key, sums)) => {
                    out.releases.insert(key, sums);
                }
                Err(e) => errors.push(e),
            }
        }
        (out, errors)
    }

    fn read_release(f: &Path) -> Result<((String, String), ReleaseSums), String> {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", f.display()))?;
        let Some(files) = v["files"].as_object() else {
            return Err(format!("{} has no \"files\" object", f.display()));
        };
        let hashes = |h: &serde_json::Value| -> Vec<String> {
            match h {
                serde_json::Value::String(s) => vec![s.to_ascii_lowercase()],
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_ascii_lowercase))
                    .collect(),
                _ => Vec::new(),
            }
        };
        let sums: ReleaseSums = files
            .iter()
            .map(|(path, h)| {
                let mut all = hashes(&h["sha256"]);
                all.extend(hashes(&h["md5"]));
                (path.clone(), all)
            })
            .filter(|(_, h)| !h.is_empty())
            .collect();
        if sums.is_empty() {
            return Err(format!("{} holds no checksums", f.display()));
        }
        let slug = v["plugin"]
            .as_str()
            .map(str::to_string)
            .or_else(|| {
                f.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        let version = v["version"]
            .as_str()
            .map(str::to_string)
            .or_else(|| f.file_stem().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        Ok(((slug, version), sums))
    }

    /// Compares a plugin directory with its release, when its checksums
    /// are here: the integrity figures plus the modified and added files
    /// and the verified ones.
    pub fn verify(&self, dir: &Path, slug: &str, version: Option<&str>) -> PluginIntegrity {
        let mut r = PluginIntegrity::default();
        let Some(version) = version else {
            r.summary.problem = Some("no version in its header".into());
            return r;
        };
        let Some(sums) = self.releases.get(&(slug.to_string(), version.to_string())) else {
            r.summary.problem = Some(format!("no checksums for {slug} {version}"));
            return r;
        };
        for (rel, accepted) in sums {
            let here = dir.join(rel);
            let Ok(data) = std::fs::read(&here) else {
                r.summary.missing += 1;
                continue;
            };
            let md5 = md5_hex(&data);
            let sha = crate::sha256_hex(&data);
            if accepted.iter().any(|h| *h == md5 || *h == sha) {
                r.verified.insert(here);
            } else {
                r.modified.push(here);
            }
        }
        let mut present = Vec::new();
        files_under(dir, "", &mut present);
        for rel in present {
            if !sums.contains_key(&rel) {
                r.added.push(dir.join(rel));
            }
        }
        r.modified.sort();
        r.added.sort();
        r.summary.verified = r.verified.len();
        r.summary.modified = r.modified.len();
        r.summary.added = r.added.len();
        r
    }
}

/// One plugin's check, with the files behind the figures.
#[derive(Debug, Clone, Default)]
pub struct PluginIntegrity {
    pub summary: ComponentIntegrity,
    pub modified: Vec<PathBuf>,
    pub added: Vec<PathBuf>,
    pub verified: HashSet<PathBuf>,
}

/// One vulnerability of a feed that covers a component's version.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Vulnerability {
    pub id: String,
    pub title: String,
    pub cve: Option<String>,
    pub cvss: Option<String>,
    /// Versions that fix it.
    pub patched: Vec<String>,
}

/// `Name: value` in a plugin's or theme's header comment.
fn header(text: &str, name: &str) -> Option<String> {
    text.lines().take(60).find_map(|l| {
        let l = l.trim_start_matches([' ', '*', '#', '@', '\t']).trim();
        let (k, v) = l.split_once(':')?;
        (k.trim().eq_ignore_ascii_case(name) && !v.trim().is_empty()).then(|| v.trim().to_string())
    })
}

/// The plugins (`wp-content/plugins/SLUG/*.php` with a `Plugin Name:`) and
/// themes (`wp-content/themes/SLUG/style.css`) of an install.
pub fn components(root: &Path) -> Vec<Component> {
    let mut out = Vec::new();
    let listed = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    };
    for p in listed(&root.join("wp-content/plugins")) {
        if !p.is_dir() {
            continue;
        }
        let slug = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let main = listed(&p).into_iter().find_map(|f| {
            let ok = f.extension().is_some_and(|e| e == "php");
            let text = ok.then(|| std::fs::read_to_string(&f).ok()).flatten()?;
            header(&text, "Plugin Name").map(|name| (name, header(&text, "Version")))
        });
        if let Some((name, version)) = main {
            out.push(Component {
                kind: "plugin",
                slug,
                name: Some(name),
                version,
                vulnerabilities: Vec::new(),
                integrity: None,
            });
        }
    }
    for t in listed(&root.join("wp-content/themes")) {
        let Ok(text) = std::fs::read_to_string(t.join("style.css")) else {
            continue;
        };
        out.push(Component {
            kind: "theme",
            slug: t
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_string(),
            name: header(&text, "Theme Name"),
            version: header(&text, "Version"),
            vulnerabilities: Vec::new(),
            integrity: None,
        });
    }
    out
}

/// Compares dotted versions part by part (numbers as numbers).
pub fn cmp_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<String> { s.split(['.', '-']).map(str::to_string).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).map(String::as_str).unwrap_or("0");
        let y = pb.get(i).map(String::as_str).unwrap_or("0");
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if o != std::cmp::Ordering::Equal {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

#[derive(Debug, Clone)]
struct Range {
    from: String,
    from_inclusive: bool,
    to: String,
    to_inclusive: bool,
}

impl Range {
    fn covers(&self, v: &str) -> bool {
        use std::cmp::Ordering::*;
        let lower = self.from == "*"
            || match cmp_versions(v, &self.from) {
                Greater => true,
                Equal => self.from_inclusive,
                Less => false,
            };
        let upper = self.to == "*"
            || match cmp_versions(v, &self.to) {
                Less => true,
                Equal => self.to_inclusive,
                Greater => false,
            };
        lower && upper
    }
}

/// A vulnerability feed in the Wordfence Intelligence JSON format: an
/// object of records, each with `software` entries (`type`, `slug`,
/// `affected_versions` ranges, `patched_versions`).
/// (kind, slug) → the feed's vulnerabilities with their version ranges.
type ByComponent = std::collections::HashMap<(String, String), Vec<(Vulnerability, Vec<Range>)>>;

#[derive(Debug, Default)]
pub struct VulnFeed {
    by_component: ByComponent,
}

impl VulnFeed {
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let records: Vec<&serde_json::Value> = match &v {
            serde_json::Value::Object(o) => o.values().collect(),
            serde_json::Value::Array(a) => a.iter().collect(),
            _ => {
                return Err(format!(
                    "{} is not a feed (object or array of records)",
                    path.display()
                ));
            }
        };
        let mut feed = VulnFeed::default();
        for r in records {
            let s = |v: &serde_json::Value| v.as_str().map(str::to_string);
            let vuln = Vulnerability {
                id: s(&r["id"]).unwrap_or_default(),
                title: s(&r["title"]).unwrap_or_default(),
                cve: s(&r["cve"]),
                cvss: r["cvss"]["rating"].as_str().map(str::to_string),
                patched: Vec::new(),
            };
            for sw in r["software"].as_array().into_iter().flatten() {
                let (Some(kind), Some(slug)) = (s(&sw["type"]), s(&sw["slug"])) else {
                    continue;
                };
                let ranges: Vec<Range> = sw["affected_versions"]
                    .as_object()
                    .into_iter()
                    .flat_map(|o| o.values())
                    .map(|a| Range {
                        from: s(&a["from_version"]).unwrap_or_else(|| "*".into()),
                        from_inclusive: a["from_inclusive"].as_bool().unwrap_or(true),
                        to: s(&a["to_version"]).unwrap_or_else(|| "*".into()),
                        to_inclusive: a["to_inclusive"].as_bool().unwrap_or(true),
                    })
                    .collect();
                let mut v = vuln.clone();
                v.patched = sw["patched_versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.as_str().map(str::to_string))
                    .collect();
                feed.by_component
                    .entry((kind, slug))
                    .or_default()
                    .push((v, ranges));
            }
        }
        Ok(feed)
    }

    /// The vulnerabilities that cover a component's version.
    pub fn check(&self, c: &Component) -> Vec<Vulnerability> {
        let Some(version) = &c.version else {
            return Vec::new();
        };
        self.by_component
            .get(&(c.kind.to_string(), c.slug.clone()))
            .into_iter()
            .flatten()
            .filter(|(_, ranges)| ranges.iter().any(|r| r.covers(version)))
            .map(|(v, _)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_ranges() {
        use std::cmp::Ordering::*;
        assert_eq!(cmp_versions("5.10", "5.9.3"), Greater);
        assert_eq!(cmp_versions("5.3", "5.3.0"), Equal);
        let r = Range {
            from: "*".into(),
            from_inclusive: true,
            to: "5.3.1".into(),
            to_inclusive: true,
        };
        assert!(r.covers("5.3.1") && r.covers("1.0") && !r.covers("5.3.2"));
        let r = Range {
            from: "2.0".into(),
            from_inclusive: false,
            to: "2.5".into(),
            to_inclusive: false,
        };
        assert!(!r.covers("2.0") && r.covers("2.1") && !r.covers("2.5"));
    }
}
