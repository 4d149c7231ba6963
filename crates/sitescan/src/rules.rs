//! The rule sets: ours (compiled in) and extra packs from a directory,
//! each pack in its own namespace so its authors' rule names are kept.

use std::path::Path;

use crate::{Excerpt, Hit, Severity, excerpt};

/// Our rules.
pub const BUILTIN: &str = include_str!("../../../catalog/rules/unlisted.yar");

/// Why rules could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("cannot read rules {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("rules {path} do not compile: {message}")]
    Compile { path: String, message: String },
    #[error("no .yar or .yara files in {0}")]
    Empty(String),
}

/// Compiled rules.
pub struct RuleSet {
    rules: yara_x::Rules,
}

impl RuleSet {
    /// Our rules plus the packs in `dirs` (each `.yar`/`.yara` file is a
    /// namespace named after the file).
    pub fn load(dirs: &[impl AsRef<Path>]) -> Result<Self, RulesError> {
        let mut c = yara_x::Compiler::new();
        c.new_namespace("unlisted");
        c.add_source(BUILTIN).map_err(|e| RulesError::Compile {
            path: "builtin unlisted.yar".into(),
            message: e.to_string(),
        })?;
        for dir in dirs {
            let dir = dir.as_ref();
            let mut files: Vec<_> = std::fs::read_dir(dir)
                .map_err(|source| RulesError::Read {
                    path: dir.display().to_string(),
                    source,
                })?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yar" || x == "yara"))
                .collect();
            if files.is_empty() {
                return Err(RulesError::Empty(dir.display().to_string()));
            }
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|source| RulesError::Read {
                    path: f.display().to_string(),
                    source,
                })?;
                let ns = f
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("pack")
                    .to_string();
                c.new_namespace(&ns);
                c.add_source(text.as_str())
                    .map_err(|e| RulesError::Compile {
                        path: f.display().to_string(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(RuleSet { rules: c.build() })
    }

    pub(crate) fn scanner(&self) -> yara_x::Scanner<'_> {
        yara_x::Scanner::new(&self.rules)
    }

    /// The rules that match `data`.
    pub(crate) fn matches(
        &self,
        scanner: &mut yara_x::Scanner<'_>,
        data: &[u8],
    ) -> Result<Vec<Hit>, String> {
        let results = scanner
            .scan(data)
            .map_err(|e| format!("scan failed: {e}"))?;
        let mut out = Vec::new();
        for r in results.matching_rules() {
            let meta = |key: &str| -> Option<String> {
                r.metadata().find(|(k, _)| *k == key).map(|(_, v)| match v {
                    yara_x::MetaValue::String(s) => s.to_string(),
                    yara_x::MetaValue::Bytes(b) => String::from_utf8_lossy(b.as_ref()).into_owned(),
                    yara_x::MetaValue::Integer(i) => i.to_string(),
                    yara_x::MetaValue::Float(f) => f.to_string(),
                    yara_x::MetaValue::Bool(b) => b.to_string(),
                })
            };
            let ns = r.namespace();
            // Packs without our severity meta report suspicious: their
            // authors tuned them for other trade-offs.
            let severity = match meta("severity").as_deref() {
                Some("malicious") if ns == "unlisted" => Severity::Malicious,
                Some("malicious" | "high" | "critical") if ns != "unlisted" => Severity::Malicious,
                _ => Severity::Suspicious,
            };
            let mut matches = Vec::new();
            for p in r.patterns() {
                for m in p.matches().take(3) {
                    let range = m.range();
                    matches.push(Excerpt {
                        offset: range.start,
                        length: range.len(),
                        text: excerpt(data, range.start, range.end),
                    });
                }
            }
            matches.sort_by_key(|m| m.offset);
            matches.truncate(5);
            out.push(Hit {
                rule: format!("{ns}:{}", r.identifier()),
                severity,
                family: meta("family").unwrap_or_else(|| ns.to_string()),
                description: meta("description").unwrap_or_default(),
                author: meta("author"),
                matches,
            });
        }
        Ok(out)
    }
}
