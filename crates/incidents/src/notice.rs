//! Customer notices: "your sending was suspended", "your site was
//! compromised", "our server is listed". Plain-text and HTML templates
//! ship with the binary (catalog/notices); a file of the same name in the
//! config directory's `notices/` replaces one. Placeholders are
//! `{{name}}`; a template naming an unknown one is refused, so a typo in an
//! edited template is caught before a customer sees it.

use std::collections::BTreeMap;
use std::path::Path;

/// The three notices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Suspended,
    Compromised,
    Listed,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Suspended => "suspended",
            Kind::Compromised => "compromised",
            Kind::Listed => "listed",
        }
    }

    /// The placeholders its templates may use.
    pub fn variables(self) -> &'static [&'static str] {
        match self {
            Kind::Suspended => &[
                "customer",
                "sender",
                "server",
                "held_since",
                "why",
                "incident",
                "desk",
            ],
            Kind::Compromised => &[
                "customer",
                "sender",
                "server",
                "site",
                "findings",
                "quarantined",
                "incident",
                "desk",
            ],
            Kind::Listed => &[
                "customer",
                "server",
                "ip",
                "lists",
                "progress",
                "no_procedure",
                "incident",
                "desk",
            ],
        }
    }

    fn builtin(self) -> (&'static str, &'static str) {
        match self {
            Kind::Suspended => (
                include_str!("../../../catalog/notices/suspended.txt"),
                include_str!("../../../catalog/notices/suspended.html"),
            ),
            Kind::Compromised => (
                include_str!("../../../catalog/notices/compromised.txt"),
                include_str!("../../../catalog/notices/compromised.html"),
            ),
            Kind::Listed => (
                include_str!("../../../catalog/notices/listed.txt"),
                include_str!("../../../catalog/notices/listed.html"),
            ),
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [Kind::Suspended, Kind::Compromised, Kind::Listed]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown notice {s:?}: suspended, compromised or listed"))
    }
}

/// A rendered notice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Replaces `{{name}}` with `vars[name]` (HTML-escaped when `html`).
pub fn render(template: &str, vars: &BTreeMap<&str, String>, html: bool) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut unknown = Vec::new();
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err("a `{{` without its `}}`".into());
        };
        let name = after[..j].trim();
        match vars.get(name) {
            Some(v) if html => out.push_str(&escape(v)),
            Some(v) => out.push_str(v),
            None => unknown.push(name.to_string()),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    if unknown.is_empty() {
        Ok(out)
    } else {
        Err(format!("unknown placeholders: {}", unknown.join(", ")))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders `kind` with `vars`, from `dir/KIND.txt` and `dir/KIND.html`
/// when they exist, else the built-in templates. The text template's first
/// line is `Subject: ...`.
pub fn notice(
    kind: Kind,
    dir: Option<&Path>,
    vars: &BTreeMap<&str, String>,
) -> Result<Rendered, String> {
    let (txt, html) = kind.builtin();
    let read = |ext: &str, builtin: &str| -> Result<String, String> {
        match dir.map(|d| d.join(format!("{}.{ext}", kind.as_str()))) {
            Some(p) if p.exists() => {
                std::fs::read_to_string(&p).map_err(|e| format!("cannot read {}: {e}", p.display()))
            }
            _ => Ok(builtin.to_string()),
        }
    };
    let (txt, html) = (read("txt", txt)?, read("html", html)?);
    let allowed = kind.variables();
    let extra: Vec<&&str> = vars.keys().filter(|k| !allowed.contains(k)).collect();
    if !extra.is_empty() {
        return Err(format!("not a {} placeholder: {extra:?}", kind.as_str()));
    }
    let text = render(&txt, vars, false).map_err(|e| format!("{}.txt: {e}", kind.as_str()))?;
    let html = render(&html, vars, true).map_err(|e| format!("{}.html: {e}", kind.as_str()))?;
    let (first, body) = text.split_once('\n').unwrap_or((&text, ""));
    let Some(subject) = first.strip_prefix("Subject:") else {
        return Err(format!(
            "{}.txt must start with a `Subject:` line",
            kind.as_str()
        ));
    };
    Ok(Rendered {
        subject: subject.trim().to_string(),
        text: body.trim_start_matches('\n').to_string(),
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(kind: Kind) -> BTreeMap<&'static str, String> {
        kind.variables()
            .iter()
            .map(|v| (*v, format!("<{v}>")))
            .collect()
    }

    #[test]
    fn every_builtin_template_renders_with_its_variables() {
        for kind in [Kind::Suspended, Kind::Compromised, Kind::Listed] {
            let r = notice(kind, None, &vars(kind)).unwrap();
            assert!(!r.subject.is_empty());
            assert!(r.text.contains("<incident>"), "{}", r.text);
            assert!(r.html.contains("&lt;incident&gt;"), "{}", r.html);
            assert!(!r.text.contains("{{"));
        }
    }

    #[test]
    fn an_edited_template_overrides_and_typos_are_refused() {
        let dir = std::env::temp_dir().join(format!("incidents-notice-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("listed.txt"),
            "Subject: Listed {{server}}\n\nDear {{customer}}, {{lists}}.\n",
        )
        .unwrap();
        let r = notice(Kind::Listed, Some(&dir), &vars(Kind::Listed)).unwrap();
        assert_eq!(r.subject, "Listed <server>");
        assert_eq!(r.text, "Dear <customer>, <lists>.\n");
        std::fs::write(dir.join("listed.txt"), "Subject: x\n\n{{custmer}}\n").unwrap();
        let e = notice(Kind::Listed, Some(&dir), &vars(Kind::Listed)).unwrap_err();
        assert!(e.contains("unknown placeholders: custmer"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
