//! Mail already queued: find a held sender's messages in Postfix's or
//! Exim's queue and keep them from leaving (Postfix's hold queue, Exim's
//! frozen state); later release or delete them.
//!
//! Postfix: `postqueue -j` lists the queue, `postcat -q ID` shows a
//! message's envelope attributes (`sasl_username`, `client_address`) and
//! headers (the pickup `Received:` line names the submitting uid),
//! `postsuper -h/-H/-d` hold, release and delete. Exim: the `-H` spool
//! files give the caller's login, `-auth_id`, `-host_address`, `-frozen`
//! and the headers; `exim -Mf/-Mt/-Mrm` freeze, thaw and remove. A message
//! in the middle of a delivery attempt is not changed by either MTA, so the
//! hold is checked again until every message is held or gone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::hold::{HoldSet, Identity};
use crate::policy::Request;

/// How to reach the MTA's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mta {
    Postfix {
        /// Where postqueue, postcat and postsuper live.
        command_dir: PathBuf,
        /// `-c DIR` for a non-default instance.
        config_dir: Option<PathBuf>,
    },
    Exim {
        /// The exim binary (`/usr/sbin/exim4`, `/usr/sbin/exim`).
        binary: PathBuf,
        /// `-C FILE` for a non-default config.
        config: Option<PathBuf>,
        /// The spool directory (holds `input/`).
        spool: PathBuf,
    },
}

/// Why the queue could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("cannot read the spool {path}: {source}")]
    Spool {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A message in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub id: String,
    /// Postfix's queue name (`active`, `deferred`, `hold`, …); for Exim
    /// `frozen` or `queued`.
    pub queue: String,
    pub sender: String,
    pub identity: Identity,
}

impl Queued {
    pub fn held(&self) -> bool {
        self.queue == "hold" || self.queue == "frozen"
    }
}

/// What is in the queue ([`Mta::census`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    pub total: usize,
    /// Held (Postfix's hold queue) or frozen (Exim).
    pub held: usize,
    /// Messages per queue: Postfix's `active`, `deferred`, `hold`,
    /// `incoming`, `maildrop`; Exim's `queued` and `frozen`.
    pub by_queue: std::collections::BTreeMap<String, usize>,
    /// How many messages `senders` was counted from.
    pub sampled: usize,
    /// Messages per sender (the strongest identity the queue file shows,
    /// else `from:` and the envelope sender), most first.
    pub senders: Vec<(String, usize)>,
}

/// What a queue action did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Messages now held (or released, or deleted).
    pub done: Vec<String>,
    /// Messages that were held already (for a hold) or not held (release).
    pub already: Vec<String>,
    /// Messages that left the queue while we worked (delivered or bounced
    /// in the middle of a delivery attempt).
    pub gone: Vec<String>,
    /// Messages the MTA would not change after every retry.
    pub stuck: Vec<String>,
}

impl Report {
    /// `3 held, 1 already held, 1 left the queue first`.
    pub fn summary(&self, verb: &str) -> String {
        let mut parts = vec![format!("{} {verb}", self.done.len())];
        if !self.already.is_empty() {
            parts.push(format!("{} already {verb}", self.already.len()));
        }
        if !self.gone.is_empty() {
            parts.push(format!("{} left the queue first", self.gone.len()));
        }
        if !self.stuck.is_empty() {
            parts.push(format!(
                "{} could not be changed: {}",
                self.stuck.len(),
                self.stuck.join(" ")
            ));
        }
        parts.join(", ")
    }
}

fn run(program: &Path, args: &[&str], stdin: Option<&str>) -> Result<String, QueueError> {
    let name = program.display().to_string();
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| QueueError::Spawn {
            program: name.clone(),
            source,
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A closed pipe shows up in the exit status below.
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|source| QueueError::Spawn {
            program: name.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(QueueError::Failed {
            program: name,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The login of `uid` from /etc/passwd (no libc call: `unsafe` is
/// forbidden here, and the file is the source of truth on these hosts).
pub fn login_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_string())
    })
}

fn identity(attrs: Vec<(&str, String)>) -> Identity {
    Request::from_attrs(attrs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).identity()
}

impl Mta {
    fn postfix_args<'a>(config_dir: &'a Option<PathBuf>, rest: &[&'a str]) -> Vec<&'a str> {
        let mut a = Vec::new();
        if let Some(c) = config_dir {
            a.push("-c");
            a.push(c.to_str().unwrap_or("."));
        }
        a.extend_from_slice(rest);
        a
    }

    /// Every message in the queue, with who sent it.
    pub fn list(&self) -> Result<Vec<Queued>, QueueError> {
        match self {
            Mta::Postfix { .. } => {
                let all = self.postqueue()?;
                Ok(all.into_iter().filter_map(|q| self.postcat(q)).collect())
            }
            Mta::Exim { spool, .. } => exim_spool(spool),
        }
    }

    /// How many messages are queued, in which of the MTA's queues, and
    /// who sent them: every message's sender for Exim (its `-H` files are
    /// read directly), at most `sample` messages' for Postfix (one
    /// `postcat` each), spread evenly over the queue.
    pub fn census(&self, sample: usize) -> Result<Census, QueueError> {
        // The messages whose senders were read: a sample (Postfix), or
        // all of them (Exim, `None`).
        let (all, sampled) = match self {
            Mta::Postfix { .. } => {
                let all = self.postqueue()?;
                let step = all.len().div_ceil(sample.max(1)).max(1);
                let read: Vec<Queued> = (all.iter().step_by(step).cloned())
                    .filter_map(|q| self.postcat(q))
                    .collect();
                (all, Some(read))
            }
            Mta::Exim { spool, .. } => (exim_spool(spool)?, None),
        };
        let read = sampled.as_deref().unwrap_or(&all);
        let mut by_queue = std::collections::BTreeMap::new();
        for q in &all {
            *by_queue.entry(q.queue.clone()).or_insert(0) += 1;
        }
        let mut by_sender: std::collections::HashMap<String, usize> =
            std::collections::HashMap::new();
        for q in read {
            let who = match q.identity.primary() {
                Some(s) => s.to_string(),
                None => format!("from:{}", q.sender),
            };
            *by_sender.entry(who).or_insert(0) += 1;
        }
        let mut senders: Vec<(String, usize)> = by_sender.into_iter().collect();
        senders.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(Census {
            total: all.len(),
            held: all.iter().filter(|q| q.held()).count(),
            by_queue,
            sampled: read.len(),
            senders,
        })
    }

    /// Postfix's queue as `postqueue -j` lists it (no identity yet).
    fn postqueue(&self) -> Result<Vec<Queued>, QueueError> {
        let Mta::Postfix {
            command_dir,
            config_dir,
        } = self
        else {
            return Ok(Vec::new());
        };
        let out = run(
            &command_dir.join("postqueue"),
            &Self::postfix_args(config_dir, &["-j"]),
            None,
        )?;
        let mut list = Vec::new();
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                tracing::warn!(line, "postqueue -j line not understood; skipped");
                continue;
            };
            let id = v["queue_id"].as_str().unwrap_or("").to_string();
            if id.is_empty() {
                continue;
            }
            list.push(Queued {
                queue: v["queue_name"].as_str().unwrap_or("").to_string(),
                sender: v["sender"].as_str().unwrap_or("").to_string(),
                identity: Identity::default(),
                id,
            });
        }
        Ok(list)
    }

    /// `q` with who sent it, from `postcat`; `None` when it left the queue
    /// since it was listed.
    fn postcat(&self, q: Queued) -> Option<Queued> {
        let Mta::Postfix {
            command_dir,
            config_dir,
        } = self
        else {
            return Some(q);
        };
        let text = run(
            &command_dir.join("postcat"),
            &Self::postfix_args(config_dir, &["-q", &q.id]),
            None,
        )
        .ok()?;
        Some(Queued {
            identity: postcat_identity(&text),
            ..q
        })
    }

    fn change(&self, verb: Verb, ids: &[String]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        match self {
            Mta::Postfix {
                command_dir,
                config_dir,
            } => {
                let flag = match verb {
                    Verb::Hold => "-h",
                    Verb::Release => "-H",
                    Verb::Delete => "-d",
                };
                // `-` reads the ids from stdin: no argument length limit.
                let list = ids.join("\n") + "\n";
                run(
                    &command_dir.join("postsuper"),
                    &Self::postfix_args(config_dir, &[flag, "-"]),
                    Some(&list),
                )
                .map(|_| ())
            }
            Mta::Exim { binary, config, .. } => {
                let flag = match verb {
                    Verb::Hold => "-Mf",
                    Verb::Release => "-Mt",
                    Verb::Delete => "-Mrm",
                };
                for chunk in ids.chunks(100) {
                    let mut args: Vec<&str> = Vec::new();
                    if let Some(c) = config {
                        args.push("-C");
                        args.push(c.to_str().unwrap_or(""));
                    }
                    args.push(flag);
                    args.extend(chunk.iter().map(String::as_str));
                    run(binary, &args, None)?;
                }
                Ok(())
            }
        }
    }

    /// Holds (freezes) every queued message of a sender `holds` covers,
    /// checking again up to `tries` times for messages that were being
    /// delivered.
    pub fn hold_matching(
        &self,
        holds: &HoldSet,
        now: i64,
        tries: u32,
    ) -> Result<Report, QueueError> {
        self.act(Verb::Hold, holds, now, tries)
    }

    /// Releases (thaws) the held messages of senders `holds` covers.
    pub fn release_matching(&self, holds: &HoldSet, now: i64) -> Result<Report, QueueError> {
        self.act(Verb::Release, holds, now, 1)
    }

    /// Deletes the queued messages of senders `holds` covers.
    pub fn delete_matching(&self, holds: &HoldSet, now: i64) -> Result<Report, QueueError> {
        self.act(Verb::Delete, holds, now, 1)
    }

    fn act(&self, verb: Verb, holds: &HoldSet, now: i64, tries: u32) -> Result<Report, QueueError> {
        let matching = |list: Vec<Queued>| -> Vec<Queued> {
            list.into_iter()
                .filter(|q| holds.find(&q.identity, now).is_some())
                .collect()
        };
        let mut report = Report::default();
        let first = matching(self.list()?);
        let todo = |q: &Queued| match verb {
            Verb::Hold => !q.held(),
            Verb::Release => q.held(),
            Verb::Delete => true,
        };
        let (mut pending, already): (Vec<Queued>, Vec<Queued>) =
            first.into_iter().partition(|q| todo(q));
        report.already = already.into_iter().map(|q| q.id).collect();
        for attempt in 0..tries.max(1) {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(500));
            }
            let ids: Vec<String> = pending.iter().map(|q| q.id.clone()).collect();
            // An id that left meanwhile makes postsuper/exim complain; the
            // listing below tells what happened to each.
            if let Err(e) = self.change(verb, &ids) {
                tracing::debug!(error = %e, "queue change reported a problem; checking the queue");
            }
            let now_queued = self.list()?;
            let mut still = Vec::new();
            for q in pending {
                match now_queued.iter().find(|n| n.id == q.id) {
                    None if verb == Verb::Delete => report.done.push(q.id),
                    None => report.gone.push(q.id),
                    Some(n) if !todo(n) => report.done.push(q.id),
                    Some(n) => still.push(n.clone()),
                }
            }
            pending = still;
        }
        report.stuck = pending.into_iter().map(|q| q.id).collect();
        Ok(report)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Hold,
    Release,
    Delete,
}

/// The sender identity in `postcat -q` output.
pub fn postcat_identity(text: &str) -> Identity {
    let mut attrs: Vec<(&str, String)> = Vec::new();
    let mut in_headers = false;
    let mut local = false;
    for line in text.lines() {
        if line.starts_with("*** MESSAGE CONTENTS") {
            in_headers = true;
            continue;
        }
        if in_headers {
            if line.is_empty() || line.starts_with("*** ") {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && let Some(attr) = crate::policy::script_header_attr(name)
            {
                attrs.push((attr, value.trim().to_string()));
            }
            // pickup: `Received: by host (Postfix, from userid 1001)`.
            if local
                && let Some(i) = line.find("(Postfix, from userid ")
                && let Some(uid) = line[i + 22..]
                    .split(')')
                    .next()
                    .and_then(|u| u.parse().ok())
                && !attrs.iter().any(|(k, _)| *k == "local_user")
                && let Some(login) = login_of(uid)
            {
                attrs.push(("local_user", login));
            }
            continue;
        }
        if let Some(s) = line.strip_prefix("sender: ") {
            attrs.push(("sender", s.trim().to_string()));
        } else if let Some(a) = line.strip_prefix("named_attribute: ") {
            match a.split_once('=') {
                Some(("sasl_username", v)) => attrs.push(("sasl_username", v.to_string())),
                Some(("client_address", v)) => attrs.push(("client_address", v.to_string())),
                Some(("rewrite_context", "local")) => local = true,
                _ => {}
            }
        }
    }
    identity(attrs)
}

/// Every message in an Exim spool (`input/` and its split subdirectories).
fn exim_spool(spool: &Path) -> Result<Vec<Queued>, QueueError> {
    let input = spool.join("input");
    let mut files = Vec::new();
    let read = |dir: &Path, files: &mut Vec<PathBuf>| -> Result<(), QueueError> {
        let entries = std::fs::read_dir(dir).map_err(|source| QueueError::Spool {
            path: dir.to_path_buf(),
            source,
        })?;
        for e in entries.flatten() {
            files.push(e.path());
        }
        Ok(())
    };
    read(&input, &mut files)?;
    let subdirs: Vec<PathBuf> = files.iter().filter(|p| p.is_dir()).cloned().collect();
    for d in subdirs {
        read(&d, &mut files)?;
    }
    let mut out = Vec::new();
    for f in files {
        let Some(name) = f.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(id) = name.strip_suffix("-H") else {
            continue;
        };
        // Exim rewrites -H files in place; one that vanished was delivered.
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        out.push(exim_h_file(id, &text));
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// One `-H` file (Exim spec, "Format of the -H file").
pub fn exim_h_file(id: &str, text: &str) -> Queued {
    let mut lines = text.split('\n');
    let _name = lines.next();
    let login = lines
        .next()
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("")
        .to_string();
    let sender = lines
        .next()
        .map(|l| {
            l.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .unwrap_or_default();
    let _time = lines.next();
    let mut attrs: Vec<(&str, String)> = Vec::new();
    let mut frozen = false;
    let mut protocol = String::new();
    let mut host = false;
    while let Some(l) = lines.next() {
        if !l.starts_with('-') {
            break;
        }
        let (opt, val) = l.split_once(' ').unwrap_or((l, ""));
        // Exim 4.94+ writes tainted values with a second dash (`--auth_id`).
        match opt.trim_start_matches('-') {
            "frozen" => frozen = true,
            "auth_id" => attrs.push(("sasl_username", val.to_string())),
            "host_address" => {
                host = true;
                // `[127.0.0.1]:12345` (4.96), or `127.0.0.1.12345` /
                // `::1.12345` (older): the port after the last dot.
                let ip = match val.strip_prefix('[') {
                    Some(rest) => rest.split(']').next().unwrap_or(rest),
                    None => val.rsplit_once('.').map(|(ip, _)| ip).unwrap_or(val),
                };
                attrs.push(("client_address", ip.to_string()));
            }
            "received_protocol" => protocol = val.to_string(),
            // ACL variables: `-aclm NAME LEN` then LEN bytes of value,
            // which may span lines: skip them whole.
            "aclc" | "aclm" => {
                let len: usize = val
                    .rsplit(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                let mut skipped = 0;
                while skipped < len {
                    match lines.next() {
                        Some(v) => skipped += v.len() + 1,
                        None => break,
                    }
                }
            }
            _ => {}
        }
    }
    if !host && protocol.starts_with("local") && !login.is_empty() {
        attrs.push(("local_user", login));
    }
    let headers = maillog::headers::exim_spool_headers(text);
    for h in &headers {
        if let Some((name, value)) = h.split_once(':')
            && let Some(attr) = crate::policy::script_header_attr(name)
        {
            attrs.push((attr, value.trim().to_string()));
        }
    }
    attrs.push(("sender", sender.clone()));
    Queued {
        id: id.to_string(),
        queue: if frozen { "frozen" } else { "queued" }.to_string(),
        sender,
        identity: identity(attrs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcat_of_an_authenticated_submission() {
        let text = "*** ENVELOPE RECORDS deferred/5F6A3B2 ***
message_size:             400             200               1               0             400               0
named_attribute: rewrite_context=remote
sender: bob@shop.example
named_attribute: client_address=127.0.0.1
named_attribute: sasl_method=PLAIN
named_attribute: sasl_username=bob@shop.example
recipient: friend@dest.example
*** MESSAGE CONTENTS deferred/5F6A3B2 ***
Received: from vm (localhost [127.0.0.1])
\tby mx.test.example (Postfix) with ESMTPA id 5F6A3B2
Subject: hi

body
*** HEADER EXTRACTED deferred/5F6A3B2 ***
";
        let id = postcat_identity(text);
        let s: Vec<String> = id.senders.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            s,
            [
                "auth:bob@shop.example",
                "ip:127.0.0.1",
                "from:bob@shop.example"
            ]
        );
    }

    #[test]
    fn postcat_of_a_php_submission() {
        let text = "*** ENVELOPE RECORDS hold/ABC ***
named_attribute: rewrite_context=local
sender: erin@shop.example
*** MESSAGE CONTENTS hold/ABC ***
Received: by mx.test.example (Postfix, from userid 0)
\tid ABC; Sat, 28 Nov 2026 05:12:31 +0000 (UTC)
X-PHP-Originating-Script: 1001:mailer.php
X-Source-Args: /usr/bin/php /home/erin/public_html/wp-content/uploads/mailer.php

body
";
        let id = postcat_identity(text);
        let s: Vec<String> = id.senders.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            s,
            [
                "script:/home/erin/public_html/wp-content/uploads/mailer.php",
                "local:root",
                "from:erin@shop.example"
            ]
        );
        assert_eq!(id.account.as_deref(), Some("erin"));
    }

    #[test]
    fn exim_h_files_of_smtp_and_local_submissions() {
        let smtp = "1xXAl1-0008S2-2x-H
Debian-exim 101 101
<dave@shop.example>
1764307000 0
-received_time_usec .123456
--helo_name vm
-host_address [127.0.0.1]:36339
-interface_address [127.0.0.1]:37711
-received_protocol esmtpa
-aclm _unlisted 62
action=HOLD held for review (auth:dave@shop.example): review
-body_linecount 1
--auth_id dave@shop.example
-frozen 1764307000
XX
1
friend@dest.example

049P Received: from [127.0.0.1] by mx.test.example
018  Subject: dave-1
";
        let q = exim_h_file("1xXAl1-0008S2-2x", smtp);
        assert!(q.held());
        let s: Vec<String> = q.identity.senders.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            s,
            [
                "auth:dave@shop.example",
                "ip:127.0.0.1",
                "from:dave@shop.example"
            ]
        );

        let local = "1xXAl2-0008S4-0Q-H
erin 1001 1001
<erin@shop.example>
1764307000 0
-received_time_usec .5
-host_address 192.0.2.1.4000
--ident erin
-received_protocol local
-body_linecount 1
XX
1
victim@dest.example

045  X-PHP-Originating-Script: 1001:mailer.php
075  X-Source-Args: /usr/bin/php /home/erin/public_html/wp-content/uploads/mailer.php
";
        let q = exim_h_file(
            "1xXAl2-0008S4-0Q",
            &local.replace("-host_address 192.0.2.1.4000\n", ""),
        );
        assert!(!q.held());
        // The older `ip.port` form of -host_address.
        let old = exim_h_file("x", local);
        assert!(
            old.identity
                .senders
                .iter()
                .any(|s| s.to_string() == "ip:192.0.2.1")
        );
        assert_eq!(
            q.identity.primary().unwrap().to_string(),
            "script:/home/erin/public_html/wp-content/uploads/mailer.php"
        );
        assert!(
            q.identity
                .senders
                .iter()
                .any(|s| s.to_string() == "local:erin")
        );
    }
}
