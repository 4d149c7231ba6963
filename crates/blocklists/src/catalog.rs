//! The catalog of blocklists: what each zone is, what its answers mean, how
//! it may be queried and how a listing ends.
//!
//! The shipped catalog (`catalog/blocklists.toml`) is compiled into the
//! binary; a user file is merged over it by list id.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::target::TargetKind;

/// The catalog that ships inside the binary.
pub const BUILTIN: &str = include_str!("../../../catalog/blocklists.toml");

/// Why a catalog could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog {origin} is not valid TOML: {message}")]
    Syntax { origin: String, message: String },
    #[error("catalog {origin}, list `{id}`: {problem}")]
    Invalid {
        origin: String,
        id: String,
        problem: String,
    },
}

/// Whether a list is still worth asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ListStatus {
    #[default]
    Active,
    Defunct,
}

/// What an answer code means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    /// The target is listed.
    #[default]
    Listed,
    /// The operator is refusing or complaining about the query itself.
    Error,
    /// An answer that means "not listed" or good reputation.
    Clean,
}

/// A set of IPv4 answers: one address, an inclusive range `a-b`, or a CIDR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerRange {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl AnswerRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&ip)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("answer `{text}`: {why}");
        let ip = |s: &str| {
            s.trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| bad("not an IPv4 address"))
        };
        if let Some((a, b)) = text.split_once('-') {
            let (first, last) = (ip(a)?, ip(b)?);
            if first > last {
                return Err(bad("range runs backwards"));
            }
            return Ok(Self { first, last });
        }
        if let Some((a, len)) = text.split_once('/') {
            let base = u32::from(ip(a)?);
            let len: u32 = len
                .parse()
                .ok()
                .filter(|l| *l <= 32)
                .ok_or_else(|| bad("prefix length must be 0-32"))?;
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            return Ok(Self {
                first: Ipv4Addr::from(base & mask),
                last: Ipv4Addr::from((base & mask) | !mask),
            });
        }
        let one = ip(text)?;
        Ok(Self {
            first: one,
            last: one,
        })
    }
}

impl fmt::Display for AnswerRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl<'de> Deserialize<'de> for AnswerRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for AnswerRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One documented answer of a list.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    pub answer: AnswerRange,
    pub meaning: String,
    #[serde(default)]
    pub kind: CodeKind,
    /// For error codes: what the operator should do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// One bit of a bitmask-coded list (SURBL, URIBL).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Bit {
    pub bit: u8,
    pub meaning: String,
}

/// How a list may be queried.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryPolicy {
    /// The name of the key in the config's `[keys]` that fills `{key}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_use: Option<String>,
    #[serde(default)]
    pub refuses_public_resolvers: bool,
    /// A polite query rate for the monitor, per zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qps: Option<f64>,
}

/// A way off a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// A web form or checker the listed party uses itself.
    SelfService,
    /// The listing ends by itself some time after the abuse stops.
    Expiry,
    /// Ask by e-mail.
    Email,
    /// The operator sells a faster removal.
    PaidExpress,
    /// Only the owner of the IP range (the ISP) may ask.
    IspOnly,
    /// An account with the operator is needed.
    Login,
    /// There is no procedure at all.
    None,
}

impl Route {
    pub fn describe(self) -> &'static str {
        match self {
            Route::SelfService => "self-service",
            Route::Expiry => "automatic expiry",
            Route::Email => "e-mail",
            Route::PaidExpress => "paid express",
            Route::IspOnly => "ISP only",
            Route::Login => "account needed",
            Route::None => "no procedure",
        }
    }
}

/// How a listing ends.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Delisting {
    #[serde(default)]
    pub routes: Vec<Route>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The usual delay of automatic expiry, e.g. `7d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Delisting {
    /// A one-line summary for tables: routes, then the URL or address.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .routes
            .iter()
            .map(|r| match (r, &self.expiry) {
                (Route::Expiry, Some(e)) => format!("expires after {e}"),
                _ => r.describe().to_string(),
            })
            .collect();
        if parts.is_empty() {
            parts.push("unknown".into());
        }
        let mut s = parts.join(", ");
        if let Some(where_) = self.url.as_ref().or(self.email.as_ref()) {
            s.push_str(": ");
            s.push_str(where_);
        }
        s
    }
}

/// RFC 5782 §5 test points.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestPoints {
    /// Must be listed.
    #[serde(default)]
    pub listed: Vec<String>,
    /// Must not be listed; `None` means the RFC defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clean: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Family {
    #[serde(default)]
    codes: Vec<Code>,
    #[serde(default)]
    query: Option<QueryPolicy>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    id: String,
    name: String,
    #[serde(default)]
    operator: Option<String>,
    zone: String,
    kinds: Vec<TargetKind>,
    #[serde(default)]
    status: ListStatus,
    #[serde(default)]
    defunct: Option<String>,
    #[serde(default)]
    default: Option<bool>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    listed: Option<Vec<AnswerRange>>,
    #[serde(default)]
    codes: Vec<Code>,
    #[serde(default)]
    bits: Vec<Bit>,
    #[serde(default)]
    query: Option<QueryPolicy>,
    #[serde(default)]
    delisting: Delisting,
    #[serde(default)]
    test: TestPoints,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalog {
    #[serde(default)]
    family: BTreeMap<String, Family>,
    #[serde(default)]
    list: Vec<RawList>,
}

/// One blocklist, with its family's shared codes and policy folded in.
#[derive(Debug, Clone, Serialize)]
pub struct List {
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The zone as written; may hold `{key}`.
    pub zone: String,
    pub kinds: Vec<TargetKind>,
    pub status: ListStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defunct: Option<String>,
    pub default: bool,
    /// Answers that mean "listed" when no code matches.
    pub listed: Vec<AnswerRange>,
    pub codes: Vec<Code>,
    pub bits: Vec<Bit>,
    pub query: QueryPolicy,
    pub delisting: Delisting,
    pub test: TestPoints,
}

impl List {
    pub fn is_active(&self) -> bool {
        self.status == ListStatus::Active
    }

    pub fn accepts(&self, kind: TargetKind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The zone to query, with `{key}` filled from `keys`; `None` when the
    /// list needs a key that is not configured.
    pub fn resolved_zone(&self, keys: &BTreeMap<String, String>) -> Option<String> {
        if !self.zone.contains("{key}") {
            return Some(self.zone.clone());
        }
        let name = self.query.key.as_deref().unwrap_or(&self.id);
        keys.get(name).map(|k| self.zone.replace("{key}", k))
    }

    /// RFC 5782 negative test points for `kind`, or the list's own.
    pub fn clean_test_points(&self, kind: TargetKind) -> Vec<String> {
        match &self.test.clean {
            Some(points) => points.clone(),
            None => vec![
                match kind {
                    TargetKind::Ipv4 => "127.0.0.1",
                    TargetKind::Ipv6 => "::ffff:7f00:1",
                    TargetKind::Domain => "invalid",
                }
                .to_string(),
            ],
        }
    }
}

/// All known lists, in catalog order.
#[derive(Debug, Clone)]
pub struct Catalog {
    lists: Vec<List>,
}

impl Catalog {
    /// The catalog compiled into the binary.
    pub fn builtin() -> Result<Self, CatalogError> {
        Self::parse(BUILTIN, "(built-in)")
    }

    /// Parses catalog text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogError> {
        let raw: RawCatalog = toml::from_str(text).map_err(|e| CatalogError::Syntax {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut lists = Vec::with_capacity(raw.list.len());
        let mut seen = HashSet::new();
        for l in raw.list {
            let invalid = |problem: String| CatalogError::Invalid {
                origin: origin.to_string(),
                id: l.id.clone(),
                problem,
            };
            if !seen.insert(l.id.clone()) {
                return Err(invalid("the id appears twice".into()));
            }
            let family = match &l.family {
                Some(f) => Some(
                    raw.family
                        .get(f)
                        .ok_or_else(|| invalid(format!("unknown family `{f}`")))?,
                ),
                None => None,
            };
            if l.kinds.is_empty() {
                return Err(invalid("`kinds` is empty".into()));
            }
            if l.status == ListStatus::Defunct && l.defunct.is_none() {
                return Err(invalid("a defunct list must say why in `defunct`".into()));
            }
            if l.zone.contains("{key}") && l.query.as_ref().and_then(|q| q.key.as_ref()).is_none() {
                let fam_key = family
                    .and_then(|f| f.query.as_ref())
                    .and_then(|q| q.key.as_ref());
                if fam_key.is_none() {
                    return Err(invalid(
                        "the zone holds {key} but no query.key names it".into(),
                    ));
                }
            }
            let mut codes = l.codes;
            if let Some(f) = family {
                codes.extend(f.codes.iter().cloned());
            }
            let query = l
                .query
                .or_else(|| family.and_then(|f| f.query.clone()))
                .unwrap_or_default();
            let active = l.status == ListStatus::Active;
            lists.push(List {
                id: l.id,
                name: l.name,
                operator: l.operator,
                zone: l.zone.trim_end_matches('.').to_ascii_lowercase(),
                kinds: l.kinds,
                status: l.status,
                defunct: l.defunct,
                default: active && l.default.unwrap_or(true),
                listed: l.listed.unwrap_or_else(|| {
                    vec![AnswerRange {
                        first: Ipv4Addr::new(127, 0, 0, 2),
                        last: Ipv4Addr::new(127, 0, 0, 254),
                    }]
                }),
                codes,
                bits: l.bits,
                query,
                delisting: l.delisting,
                test: l.test,
            });
        }
        Ok(Self { lists })
    }

    /// Reads a user catalog file.
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Merges `other` over `self`: same id replaces, new ids are appended.
    pub fn merge(mut self, other: Catalog) -> Self {
        for l in other.lists {
            match self.lists.iter_mut().find(|x| x.id == l.id) {
                Some(slot) => *slot = l,
                None => self.lists.push(l),
            }
        }
        self
    }

    pub fn lists(&self) -> &[List] {
        &self.lists
    }

    pub fn get(&self, id: &str) -> Option<&List> {
        self.lists.iter().find(|l| l.id == id)
    }

    /// Picks the lists to query.
    ///
    /// `ids` empty means the default set; `all` means every active list.
    /// Defunct lists are never returned: they come back as warnings, as do
    /// unknown ids (an error) and keyed lists named without their key.
    /// Keyed lists without a key are left out of `all` silently.
    pub fn select(&self, ids: &[String], keys: &BTreeMap<String, String>) -> Selection<'_> {
        let mut sel = Selection::default();
        let wanted: Vec<&List> = if ids.is_empty() {
            self.lists.iter().filter(|l| l.default).collect()
        } else if ids.iter().any(|i| i == "all") {
            self.lists.iter().filter(|l| l.is_active()).collect()
        } else {
            let mut v = Vec::new();
            for id in ids {
                match self
                    .get(id)
                    .or_else(|| self.lists.iter().find(|l| l.zone == *id))
                {
                    Some(l) if !v.iter().any(|x: &&List| x.id == l.id) => v.push(l),
                    Some(_) => {}
                    None => sel.unknown.push(id.clone()),
                }
            }
            v
        };
        for l in wanted {
            if !l.is_active() {
                sel.defunct.push(l);
                continue;
            }
            match l.resolved_zone(keys) {
                Some(zone) => sel.lists.push(Selected { list: l, zone }),
                // Only a list named explicitly is worth a warning.
                None if !ids.is_empty() && !ids.iter().any(|i| i == "all") => {
                    sel.missing_key.push(l)
                }
                None => {}
            }
        }
        sel
    }
}

/// A list chosen for querying, with its zone resolved.
#[derive(Debug, Clone)]
pub struct Selected<'a> {
    pub list: &'a List,
    pub zone: String,
}

/// The outcome of [`Catalog::select`].
#[derive(Debug, Default)]
pub struct Selection<'a> {
    pub lists: Vec<Selected<'a>>,
    /// Asked for, but dead: never queried.
    pub defunct: Vec<&'a List>,
    /// Asked for, but the key it needs is not configured.
    pub missing_key: Vec<&'a List>,
    /// Ids that name no list.
    pub unknown: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_parses_and_has_forty_live_lists() {
        let c = Catalog::builtin().unwrap();
        let active = c.lists().iter().filter(|l| l.is_active()).count();
        assert!(active >= 40, "only {active} active lists");
        let defunct = c.lists().iter().filter(|l| !l.is_active()).count();
        assert!(defunct >= 20, "only {defunct} defunct lists");
        for l in c.lists().iter().filter(|l| l.is_active()) {
            assert!(
                !l.delisting.routes.is_empty(),
                "{} has no delisting route",
                l.id
            );
        }
    }

    #[test]
    fn spamhaus_lists_inherit_error_codes() {
        let c = Catalog::builtin().unwrap();
        let zen = c.get("spamhaus-zen").unwrap();
        let err = zen
            .codes
            .iter()
            .find(|x| x.answer.contains(Ipv4Addr::new(127, 255, 255, 254)))
            .unwrap();
        assert_eq!(err.kind, CodeKind::Error);
        assert!(
            err.action
                .as_deref()
                .unwrap()
                .contains("own recursive resolver")
        );
        assert!(zen.query.refuses_public_resolvers);
    }

    #[test]
    fn answer_ranges_parse() {
        let r = AnswerRange::parse("127.0.1.0/24").unwrap();
        assert!(r.contains(Ipv4Addr::new(127, 0, 1, 255)));
        assert!(!r.contains(Ipv4Addr::new(127, 0, 2, 0)));
        let r = AnswerRange::parse("127.0.0.10-127.0.0.12").unwrap();
        assert!(r.contains(Ipv4Addr::new(127, 0, 0, 11)));
        assert!(AnswerRange::parse("127.0.0.9-127.0.0.1").is_err());
        assert!(AnswerRange::parse("127.0.0.0/33").is_err());
        assert!(AnswerRange::parse("nope").is_err());
    }

    #[test]
    fn defunct_lists_are_never_selected() {
        let c = Catalog::builtin().unwrap();
        let sel = c.select(&["sorbs".into(), "spamcop".into()], &BTreeMap::new());
        assert_eq!(sel.lists.len(), 1);
        assert_eq!(sel.defunct[0].id, "sorbs");
        assert!(
            c.select(&[], &BTreeMap::new())
                .lists
                .iter()
                .all(|s| s.list.is_active())
        );
    }

    #[test]
    fn keyed_lists_need_their_key() {
        let c = Catalog::builtin().unwrap();
        let ids = vec!["spamhaus-zen-dqs".to_string()];
        let sel = c.select(&ids, &BTreeMap::new());
        assert_eq!(sel.missing_key.len(), 1);
        let keys = BTreeMap::from([("spamhaus-dqs".to_string(), "abc123".to_string())]);
        let sel = c.select(&ids, &keys);
        assert_eq!(sel.lists[0].zone, "abc123.zen.dq.spamhaus.net");
    }

    #[test]
    fn user_catalog_overrides_by_id_and_rejects_unknown_keys() {
        let user = r#"
            [[list]]
            id = "spamcop"
            name = "SpamCop mirror"
            zone = "bl.spamcop.example"
            kinds = ["ipv4"]
            [[list]]
            id = "local"
            name = "Our own list"
            zone = "bl.example.net"
            kinds = ["ipv4", "domain"]
        "#;
        let c = Catalog::builtin()
            .unwrap()
            .merge(Catalog::parse(user, "user").unwrap());
        assert_eq!(c.get("spamcop").unwrap().zone, "bl.spamcop.example");
        assert!(c.get("local").unwrap().default);
        let bad = "[[list]]\nid='x'\nname='x'\nzone='x'\nkinds=['ipv4']\nbogus=1\n";
        let err = Catalog::parse(bad, "user").unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
