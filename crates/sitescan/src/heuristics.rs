//! Weak signals no rule expresses: PHP where PHP should not be (uploads,
//! cache, hidden directories, generated names), very long lines and high
//! entropy in PHP files. All are `suspicious`: alone they prove nothing.

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

pub(crate) fn check(path: &Path, data: &[u8]) -> Vec<Hit> {
    if !is_php(path, data) {
        return Vec::new();
    }
    let mut out = Vec::new();
    if let Some(why) = detect::signals::odd_script_place(&path.to_string_lossy()) {
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
