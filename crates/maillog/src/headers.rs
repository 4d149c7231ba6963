//! What a message's own headers say about the script that sent it, and
//! reading them from Exim's spool while the message is queued.
//!
//! PHP's `mail.add_x_header` writes `X-PHP-Originating-Script: uid:basename`
//! (basename only, php-src ext/standard/mail.c); cPanel writes
//! `X-Source-Args` (the interpreter and the script's full path) and
//! `X-Source-Dir`; the "php mail header patch" writes `X-PHP-Script: host/uri
//! for visitor-ip`. The Exim `-H` spool file holds the headers after the
//! envelope, each prefixed with its length and a flag (Exim spec, "Format of
//! the -H file").

use std::path::{Path, PathBuf};

use crate::message::{Attribution, MatchedBy, Message, Sender, SenderKind, account_from_path};

/// The script hints found in a header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptHeaders {
    /// From X-PHP-Originating-Script.
    pub uid: Option<u32>,
    pub basename: Option<String>,
    /// From X-Source-Args: the script's full path.
    pub path: Option<String>,
    /// From X-Source-Dir (`domain:/dir`, relative to the account's home).
    pub source_dir: Option<String>,
    /// From X-PHP-Script: who requested the page.
    pub visitor_ip: Option<String>,
}

impl ScriptHeaders {
    pub fn is_empty(&self) -> bool {
        *self == ScriptHeaders::default()
    }
}

/// Reads the hints from `Name: value` header lines (continuations joined).
pub fn script_headers<'a>(headers: impl IntoIterator<Item = &'a str>) -> ScriptHeaders {
    let mut h = ScriptHeaders::default();
    for line in headers {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "x-php-originating-script" => {
                if let Some((uid, base)) = value.split_once(':') {
                    h.uid = uid.trim().parse().ok();
                    h.basename = Some(base.trim().to_string());
                }
            }
            "x-source-args" => {
                h.path = value
                    .split_ascii_whitespace()
                    .rev()
                    .find(|w| w.starts_with('/') && w.ends_with(".php"))
                    .map(str::to_string);
            }
            "x-source-dir" => h.source_dir = Some(value.to_string()),
            "x-php-script" => {
                h.visitor_ip = value
                    .split(" for ")
                    .nth(1)
                    .and_then(|ips| ips.split(',').next())
                    .map(|ip| ip.trim().to_string());
            }
            _ => {}
        }
    }
    h
}

/// The header lines of an Exim `-H` spool file.
pub fn exim_spool_headers(text: &str) -> Vec<String> {
    let mut lines = text.lines();
    // The envelope ends at the first empty line (after the recipients).
    for l in lines.by_ref() {
        if l.is_empty() {
            break;
        }
    }
    let mut out: Vec<String> = Vec::new();
    for l in lines {
        let digits = l.bytes().take_while(u8::is_ascii_digit).count();
        if digits >= 3 && l.len() > digits + 1 && l.as_bytes()[digits + 1] == b' ' {
            out.push(l[digits + 2..].to_string());
        } else if let Some(last) = out.last_mut()
            && l.starts_with([' ', '\t'])
        {
            last.push(' ');
            last.push_str(l.trim());
        }
    }
    out
}

/// Where Exim keeps the `-H` file of message `id` under `spool`
/// (`input/` or, with split_spool_directory, `input/<6th char>/`).
pub fn exim_spool_file(spool: &Path, id: &str) -> Option<PathBuf> {
    let name = format!("{id}-H");
    let flat = spool.join("input").join(&name);
    if flat.is_file() {
        return Some(flat);
    }
    let split = spool.join("input").join(id.get(5..6)?).join(&name);
    split.is_file().then_some(split)
}

/// Names the script of a local submission from its headers: the full path
/// from X-Source-Args, else the basename from X-PHP-Originating-Script in
/// the directory the `cwd=` line gave.
pub fn apply(m: &mut Message, h: &ScriptHeaders) {
    if !matches!(m.sender.kind, SenderKind::Script | SenderKind::Local) || h.is_empty() {
        return;
    }
    let cwd = m.attribution.as_ref().map(|a| a.cwd.clone());
    let script = h.path.clone().or_else(|| {
        let base = h.basename.as_ref()?;
        Some(match &cwd {
            Some(dir) => format!("{}/{base}", dir.trim_end_matches('/')),
            None => base.clone(),
        })
    });
    let Some(script) = script else { return };
    if m.account.is_none() {
        m.account = account_from_path(&script).map(str::to_string);
    }
    let att = m.attribution.get_or_insert_with(|| {
        Box::new(Attribution {
            cwd: String::new(),
            args: String::new(),
            matched_by: MatchedBy::Header,
            ambiguous: false,
            script: None,
            visitor_ip: None,
        })
    });
    att.script = Some(script.clone());
    if h.visitor_ip.is_some() {
        att.visitor_ip = h.visitor_ip.clone();
    }
    att.matched_by = MatchedBy::Header;
    att.ambiguous = false;
    m.sender = Sender::new(SenderKind::Script, script);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_and_cpanel_headers() {
        let h = script_headers([
            "X-PHP-Script: www.btmindustrial.com/contactFormSend.php for 212.102.35.132",
            "X-PHP-Originating-Script: 1004:contactFormSend.php",
            "X-Source-Args: /opt/cpanel/ea-php70/root/usr/bin/php-cgi /home/dsblocks/public_html/wp-content/9P7tiqGfhvd.php",
            "X-Source-Dir: 3dsblocks.com:/public_html/wp-content",
            "Subject: hi",
        ]);
        assert_eq!(h.uid, Some(1004));
        assert_eq!(h.basename.as_deref(), Some("contactFormSend.php"));
        assert_eq!(
            h.path.as_deref(),
            Some("/home/dsblocks/public_html/wp-content/9P7tiqGfhvd.php")
        );
        assert_eq!(h.visitor_ip.as_deref(), Some("212.102.35.132"));
        assert!(script_headers(["Subject: x"]).is_empty());
    }

    #[test]
    fn apply_names_the_script_and_keeps_the_visitor() {
        use crate::time::Stamp;
        let mut m = Message::new("1rK000-000000-00", Stamp::default(), "", 0);
        m.sender = Sender::new(SenderKind::Script, "/home/shop/public_html");
        m.envelope_from = "a@shop.example".into();
        m.protocol = Some("local".into());
        m.complete = true;
        m.attribution = Some(Box::new(Attribution {
            cwd: "/home/shop/public_html".into(),
            args: "sendmail -t -i".into(),
            matched_by: MatchedBy::Order,
            ambiguous: true,
            script: None,
            visitor_ip: None,
        }));
        let h = script_headers([
            "X-PHP-Script: shop.example/contact.php for 198.51.100.99, 203.0.113.1",
            "X-PHP-Originating-Script: 1004:contact.php",
        ]);
        apply(&mut m, &h);
        assert_eq!(
            m.sender.to_string(),
            "script:/home/shop/public_html/contact.php"
        );
        assert_eq!(m.account.as_deref(), Some("shop"));
        let att = m.attribution.unwrap();
        assert_eq!((att.matched_by, att.ambiguous), (MatchedBy::Header, false));
        assert_eq!(att.visitor_ip.as_deref(), Some("198.51.100.99"));
    }

    #[test]
    fn exim_spool_file_headers() {
        let spool = "1tixMn-00000000C5j-1wRa-H\nroot 0 0\n<root@domain.ru>\n1739553153 0\n-ident root\n-received_protocol local\nXX\n1\ntest@domain.ru\n\n254P Received: from root by mail.domain.ru with local (Exim 4.98)\n\t(envelope-from <root@domain.ru>)\n\tid 1tixMn-00000000C5j-1wRa\n045  X-PHP-Originating-Script: 1001:x7.php\n035T To: test@domain.ru\n";
        let h = exim_spool_headers(spool);
        assert_eq!(h.len(), 3);
        assert!(
            h[0].starts_with("Received: from root")
                && h[0].contains("(envelope-from <root@domain.ru>)")
        );
        assert_eq!(h[1], "X-PHP-Originating-Script: 1001:x7.php");
        assert_eq!(h[2], "To: test@domain.ru");
    }
}
