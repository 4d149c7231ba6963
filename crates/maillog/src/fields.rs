//! Exim's `K=value` fields: bare values, `"quoted \" values"`, the host
//! field `H=name (helo) [ip]:port` (which holds spaces), and the trailing
//! `for rcpt1 rcpt2` list of `+received_recipients`.

use std::borrow::Cow;

/// One field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    /// The value as written, without surrounding quotes.
    pub raw: &'a str,
    quoted: bool,
}

impl<'a> Value<'a> {
    /// The value with `\"` and `\\` escapes undone (Exim escapes quotes in
    /// `T=` and `C=`).
    pub fn text(&self) -> Cow<'a, str> {
        if !self.quoted || !self.raw.contains('\\') {
            return Cow::Borrowed(self.raw);
        }
        let mut out = String::with_capacity(self.raw.len());
        let mut chars = self.raw.chars();
        while let Some(c) = chars.next() {
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }
}

/// Iterates the fields of a line's tail.
pub struct Fields<'a> {
    rest: &'a str,
    recipients: Option<&'a str>,
}

impl<'a> Fields<'a> {
    pub fn new(s: &'a str) -> Self {
        Fields {
            rest: s,
            recipients: None,
        }
    }

    /// The `for …` recipients met while iterating (call after iterating).
    pub fn recipients(&self) -> Vec<&'a str> {
        self.recipients
            .map(|r| r.split_ascii_whitespace().collect())
            .unwrap_or_default()
    }
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 8
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'*' || b == b'_')
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let s = self.rest.trim_start_matches(' ');
            if s.is_empty() {
                self.rest = s;
                return None;
            }
            if let Some(r) = s.strip_prefix("for ") {
                self.recipients = Some(r);
                self.rest = "";
                return None;
            }
            // One pass over the word for its end and its first `=`: words
            // are short, so a plain loop beats a vectorized search here.
            let b = s.as_bytes();
            let mut word_end = 0;
            let mut first_eq = None;
            while word_end < b.len() && b[word_end] != b' ' {
                if b[word_end] == b'=' && first_eq.is_none() {
                    first_eq = Some(word_end);
                }
                word_end += 1;
            }
            let Some(eq) = first_eq else {
                // A bare word (`from <x>`, `defer (-44)`): skip it.
                self.rest = &s[word_end..];
                continue;
            };
            let key = &s[..eq];
            if !is_key(key) {
                self.rest = &s[word_end..];
                continue;
            }
            let v = &s[eq + 1..];
            if let Some(q) = v.strip_prefix('"') {
                // Quoted: up to the first unescaped quote.
                let bytes = q.as_bytes();
                let mut i = 0;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let i = i.min(bytes.len());
                self.rest = q.get(i + 1..).unwrap_or("");
                return Some((
                    key,
                    Value {
                        raw: &q[..i],
                        quoted: true,
                    },
                ));
            }
            let mut end = word_end - eq - 1;
            if key == "H" {
                // `H=name (helo with spaces) [ip]:port`: take following
                // `(…)` and `[…]` parts too.
                loop {
                    let t = &v[end..];
                    let t2 = t.trim_start_matches(' ');
                    let skip = t.len() - t2.len();
                    if t2.starts_with('(') {
                        match t2.find(')') {
                            Some(c) => end += skip + c + 1,
                            None => break,
                        }
                        end += v[end..].find(' ').unwrap_or(v.len() - end);
                    } else if t2.starts_with('[') {
                        end += skip + t2.find(' ').unwrap_or(t2.len());
                    } else {
                        break;
                    }
                }
            }
            self.rest = &v[end..];
            return Some((
                key,
                Value {
                    raw: &v[..end],
                    quoted: false,
                },
            ));
        }
    }
}

/// The IP inside `[…]` of a host field, or a bare `[ip]`.
pub fn host_ip(h: &str) -> Option<&str> {
    let s = h.rfind('[')?;
    let e = h[s..].find(']')?;
    Some(&h[s + 1..s + e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        let all: Vec<_> = Fields::new("H=mail.x (helo name) [192.0.2.1]:25 P=esmtpa").collect();
        assert_eq!(all[0].1.raw, "mail.x (helo name) [192.0.2.1]:25");
        assert_eq!(host_ip(all[0].1.raw), Some("192.0.2.1"));
        assert_eq!(
            all[1],
            (
                "P",
                Value {
                    raw: "esmtpa",
                    quoted: false
                }
            )
        );
        let all: Vec<_> = Fields::new("H=(helo) [2001:db8::1] S=5").collect();
        assert_eq!(host_ip(all[0].1.raw), Some("2001:db8::1"));
        assert_eq!(all[1].0, "S");
        let all: Vec<_> = Fields::new("H=[192.0.2.9]:587 A=plain").collect();
        assert_eq!(host_ip(all[0].1.raw), Some("192.0.2.9"));
    }

    #[test]
    fn quoted_and_recipients() {
        let mut f = Fields::new(r#"T="a \"b\" => c" C="250 ok" for a@x b@y"#);
        let t = f.next().unwrap();
        assert_eq!(t.1.text(), r#"a "b" => c"#);
        assert_eq!(f.next().unwrap().1.raw, "250 ok");
        assert!(f.next().is_none());
        assert_eq!(f.recipients(), ["a@x", "b@y"]);
    }

    #[test]
    fn unterminated_quote_does_not_panic() {
        let v: Vec<_> = Fields::new(r#"T="never closed \"#).collect();
        assert_eq!(v.len(), 1);
    }
}
