//! WordPress core integrity: find the installs under a tree, read their
//! version, and compare every core file with a reference — the official
//! per-file checksums (the JSON of api.wordpress.org's
//! `core/checksums/1.0`, saved to a file) or a pristine copy of the same
//! release on disk. Modified core files and files added to `wp-admin/` or
//! `wp-includes/` are reported; files that match are verified clean and
//! skip the expensive checks.

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

fn md5_hex(path: &Path) -> Option<String> {
    let data = std::fs::read(path).ok()?;
    Some(
        md5::Md5::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
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
            Reference::Checksums(m) => md5_hex(&here).as_deref() == m.get(rel).map(String::as_str),
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
