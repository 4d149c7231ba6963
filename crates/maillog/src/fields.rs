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
        if !self.quoted || find_ascii(self.raw, b'\\').is_none() {
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

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// The high bit of each byte of `w` that equals `c`, exact up to the
/// first such byte (a borrow may mark bytes after it): enough to find the
/// first.
#[inline(always)]
fn bytes_equal(w: u64, c: u8) -> u64 {
    let x = w ^ (ONES * c as u64);
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Eight bytes at a time, a word of a log line holding one to three dozen:
/// fewer steps than a byte loop, less set-up than a vector search.
#[inline(always)]
fn find_with(b: &[u8], mut i: usize, hit: impl Fn(u64) -> u64, one: impl Fn(u8) -> bool) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let m = hit(w);
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && !one(b[i]) {
        i += 1;
    }
    i
}

/// Where the first space or `=` at or after `i` is, or `b.len()`.
fn find_space_or_eq(b: &[u8], i: usize) -> usize {
    find_with(
        b,
        i,
        |w| bytes_equal(w, b' ') | bytes_equal(w, b'='),
        |c| c == b' ' || c == b'=',
    )
}

/// Where the first `c` at or after `i` is, or `b.len()`.
pub(crate) fn find_byte(b: &[u8], i: usize, c: u8) -> usize {
    find_with(b, i, |w| bytes_equal(w, c), |x| x == c)
}

/// Where `needle` (a few bytes) first starts in `b`: its first byte eight
/// bytes at a time, then the rest compared. For the short markers near a
/// line's start (`": "`, `" args: "`), where setting up a substring
/// search costs more than the search.
pub(crate) fn find_short(b: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut i = 0;
    loop {
        i = find_byte(b, i, first);
        if i >= b.len() {
            return None;
        }
        if b[i..].starts_with(needle) {
            return Some(i);
        }
        i += 1;
    }
}

/// Does `hay` hold `needle` (a short word)? [`find_short`]: `str::contains`
/// builds a substring searcher at each call, which costs more than the
/// search in a log line's few dozen bytes.
pub(crate) fn has(hay: &str, needle: &str) -> bool {
    find_short(hay.as_bytes(), needle.as_bytes()).is_some()
}

/// Where the first `c` (ASCII) in `s` is: `str::find` for one byte,
/// cheaper on the short words of a log line, where a vector search's
/// set-up costs more than the search.
pub(crate) fn find_ascii(s: &str, c: u8) -> Option<usize> {
    debug_assert!(c.is_ascii());
    let i = find_byte(s.as_bytes(), 0, c);
    (i < s.len()).then_some(i)
}

/// `str::split_once` at the first `c` (ASCII), as [`find_ascii`] finds it.
pub(crate) fn split_once_ascii(s: &str, c: u8) -> Option<(&str, &str)> {
    find_ascii(s, c).map(|i| (&s[..i], &s[i + 1..]))
}

fn is_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= 8 && k.bytes().all(is_key_byte)
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'*' || b == b'_'
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a str, Value<'a>);

    /// Walks the bytes by index: every place sliced at is an ASCII byte
    /// (a space, `=`, a quote, a bracket) or an end.
    fn next(&mut self) -> Option<Self::Item> {
        let s: &'a str = self.rest;
        let b = s.as_bytes();
        let mut i = 0;
        loop {
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            if i >= b.len() {
                self.rest = "";
                return None;
            }
            if b[i..].starts_with(b"for ") {
                self.recipients = Some(&s[i + 4..]);
                self.rest = "";
                return None;
            }
            // The word's first `=`, if before its end: most keys are a
            // letter or two, looked at directly.
            let eq = match b.get(i + 1..i + 3) {
                Some([b'=', _]) if is_key_byte(b[i]) => i + 1,
                Some([k, b'=']) if is_key_byte(b[i]) && is_key_byte(*k) => i + 2,
                _ => {
                    let eq = find_space_or_eq(b, i);
                    if b.get(eq) != Some(&b'=') {
                        // A bare word (`from <x>`, `defer (-44)`): skip it.
                        i = eq;
                        continue;
                    }
                    if !is_key(&s[i..eq]) {
                        i = find_byte(b, eq + 1, b' ');
                        continue;
                    }
                    eq
                }
            };
            let key = &s[i..eq];
            let v = eq + 1;
            if b.get(v) == Some(&b'"') {
                // Quoted: up to the first unescaped quote.
                let mut j = v + 1;
                loop {
                    j = find_with(
                        b,
                        j,
                        |w| bytes_equal(w, b'"') | bytes_equal(w, b'\\'),
                        |c| c == b'"' || c == b'\\',
                    );
                    if b.get(j) != Some(&b'\\') {
                        break;
                    }
                    j += 2;
                }
                let j = j.min(b.len());
                self.rest = s.get(j + 1..).unwrap_or("");
                return Some((
                    key,
                    Value {
                        raw: &s[v + 1..j],
                        quoted: true,
                    },
                ));
            }
            let mut end = find_byte(b, v, b' ');
            if key == "H" {
                // `H=name (helo with spaces) [ip]:port`: take following
                // `(…)` and `[…]` parts too.
                loop {
                    let mut t = end;
                    while b.get(t) == Some(&b' ') {
                        t += 1;
                    }
                    match b.get(t) {
                        Some(b'(') => {
                            let close = find_byte(b, t, b')');
                            if close >= b.len() {
                                break;
                            }
                            end = find_byte(b, close + 1, b' ');
                        }
                        Some(b'[') => end = find_byte(b, t, b' '),
                        _ => break,
                    }
                }
            }
            self.rest = &s[end..];
            return Some((
                key,
                Value {
                    raw: &s[v..end],
                    quoted: false,
                },
            ));
        }
    }
}

/// The IP inside `[…]` of a host field, or a bare `[ip]`.
pub fn host_ip(h: &str) -> Option<&str> {
    // Near the end of a short field: a byte loop from the back.
    let s = h.bytes().rposition(|c| c == b'[')?;
    let e = find_ascii(&h[s..], b']')?;
    Some(&h[s + 1..s + e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_markers_are_found_where_a_substring_search_finds_them() {
        for (hay, needle) in [
            ("Jan  1 00:00:00 mx postfix/qmgr[9]: 1A: removed", ": "),
            ("a::: b", ": "),
            ("no marker here:", ": "),
            ("cwd=/x args:y 3 args: /usr/sbin/exim -Mc", " args: "),
            ("cwd=/x 3 args:/usr/sbin/exim", " args: "),
            ("cwd=/x 3 args:/usr/sbin/exim", " args:"),
            ("", ": "),
        ] {
            assert_eq!(
                find_short(hay.as_bytes(), needle.as_bytes()),
                hay.find(needle),
                "{hay:?} {needle:?}"
            );
        }
        assert_eq!(find_short(b"abc", b""), None);
    }

    #[test]
    fn eight_at_a_time_finds_what_a_byte_loop_finds() {
        // Every place of the byte sought within and across eight-byte
        // steps, after bytes that differ from it by one bit (a borrow's
        // false match) and UTF-8 bytes above 0x7f.
        let fillers = [b'a', b'!', b'<', b'>', 0xc3, 0xa9, b'\x01', b'\x7f'];
        for len in 0..40 {
            for at in 0..=len {
                for (k, &f) in fillers.iter().enumerate() {
                    let mut b = vec![f; len];
                    for (j, x) in b.iter_mut().enumerate() {
                        if (j + k) % 3 == 0 {
                            *x = fillers[(j + k) % fillers.len()];
                        }
                    }
                    for c in [b' ', b'='] {
                        let mut b = b.clone();
                        if at < len {
                            b[at] = c;
                        }
                        let naive = |i: usize, f: &dyn Fn(u8) -> bool| {
                            (i..b.len()).find(|&j| f(b[j])).unwrap_or(b.len())
                        };
                        for from in 0..=len {
                            assert_eq!(
                                find_space_or_eq(&b, from),
                                naive(from, &|x| x == b' ' || x == b'='),
                                "{b:?} from {from}"
                            );
                            assert_eq!(find_byte(&b, from, c), naive(from, &|x| x == c));
                        }
                    }
                }
            }
        }
    }

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
