//! Weak signals no rule expresses: PHP where PHP should not be (uploads,
//! cache, hidden directories, generated names), very long lines and high
//! entropy in PHP files, and a PHP file changed long after the files
//! around it. All are `suspicious`: alone they prove nothing.

use std::path::Path;

use crate::{Excerpt, Hit, Severity};

fn is_php(path: &Path, data: &[u8]) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    matches!(
        ext.as_deref(),
        Some("php" | "phtml" | "php5" | "php7" | "phar" | "inc")
    ) || data
        .windows(5)
        .take(4096)
        .any(|w| w.eq_ignore_ascii_case(b"<?php"))
}

/// Shannon entropy in bits per byte.
fn entropy(data: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in data {
        counts[b as usize] += 1;
    }
    let n = data.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

fn hit(rule: &str, description: String, matches: Vec<Excerpt>) -> Hit {
    Hit {
        rule: format!("heuristic:{rule}"),
        severity: Severity::Suspicious,
        family: "heuristic".into(),
        description,
        author: None,
        matches,
    }
}

/// Weak signals of one file; `place` is its path within the scanned tree.
pub(crate) fn check(path: &Path, place: &str, data: &[u8]) -> Vec<Hit> {
    if !is_php(path, data) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(why) = detect::signals::odd_script_place(place) {
        out.push(hit("odd_place", format!("PHP {why}"), Vec::new()));
    }
    // Very long lines: packed or generated payloads.
    let mut offset = 0;
    for line in data.split(|&b| b == b'\n') {
        if line.len() > 5000 {
            out.push(hit(
                "long_line",
                format!("a {}-byte line", line.len()),
                vec![Excerpt {
                    offset,
                    length: line.len(),
                    text: crate::excerpt(data, offset, offset + 60),
                }],
            ));
            break;
        }
        offset += line.len() + 1;
    }
    if data.len() > 2048 {
        let e = entropy(data);
        if e > 5.8 {
            out.push(hit(
                "entropy",
                format!("entropy {e:.2} bits per byte: packed or encoded content"),
                Vec::new(),
            ));
        }
    }
    out
}

/// Siblings needed before a directory's typical ctime means anything.
const MIN_SIBLINGS: usize = 5;
/// How much later than its siblings' median a file must have changed.
const LATE: i64 = 30 * 86_400;

/// PHP files whose ctime is far later than the median of the other files
/// in their directory: an attacker's edit of an old plugin or core file
/// stands out there even when mtime was forged (ctime cannot be set).
pub(crate) fn late_ctimes(files: &[std::path::PathBuf]) -> Vec<(std::path::PathBuf, Hit)> {
    use std::os::unix::fs::MetadataExt;
    let with_ctime: Vec<(std::path::PathBuf, i64)> = files
        .iter()
        .filter_map(|f| {
            std::fs::symlink_metadata(f)
                .ok()
                .map(|m| (f.clone(), m.ctime()))
        })
        .collect();
    late_among(&with_ctime)
}

/// [`late_ctimes`] over known ctimes.
fn late_among(files: &[(std::path::PathBuf, i64)]) -> Vec<(std::path::PathBuf, Hit)> {
    use std::collections::HashMap;
    let mut by_dir: HashMap<&Path, Vec<(&std::path::PathBuf, i64)>> = HashMap::new();
    for (f, c) in files {
        if let Some(dir) = f.parent() {
            by_dir.entry(dir).or_default().push((f, *c));
        }
    }
    let mut out = Vec::new();
    for (_, mut entries) in by_dir {
        if entries.len() < MIN_SIBLINGS {
            continue;
        }
        entries.sort_by_key(|(_, c)| *c);
        let median = entries[entries.len() / 2].1;
        for (f, c) in entries {
            let php = f.extension().is_some_and(|e| e.eq_ignore_ascii_case("php"));
            if php && c - median > LATE {
                out.push((
                    f.clone(),
                    hit(
                        "late_ctime",
                        format!(
                            "changed {} days after most files of its directory",
                            (c - median) / 86_400
                        ),
                        Vec::new(),
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_php_file_changed_long_after_its_siblings_stands_out() {
        let day = 86_400;
        let mut files: Vec<(std::path::PathBuf, i64)> = (0..6)
            .map(|i| {
                (
                    format!("/site/wp-content/plugins/p/f{i}.php").into(),
                    1_600_000_000 + i * 60,
                )
            })
            .collect();
        files.push((
            "/site/wp-content/plugins/p/class-loader.php".into(),
            1_600_000_000 + 200 * day,
        ));
        files.push((
            "/site/wp-content/plugins/p/readme.txt".into(),
            1_600_000_000 + 200 * day,
        ));
        let late = late_among(&files);
        assert_eq!(late.len(), 1, "{late:?}");
        assert!(late[0].0.ends_with("class-loader.php"));
        assert_eq!(
            late[0].1.description,
            "changed 199 days after most files of its directory"
        );
        // Too few siblings: nothing to compare with.
        assert!(late_among(&files[4..]).is_empty());
    }
}
