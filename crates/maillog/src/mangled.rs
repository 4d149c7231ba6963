//! Mangled input: every prefix of real-form lines, seeded random
//! mutations of them, and garbage between the lines of whole messages.
//! The parser must never panic, must account for every line (understood,
//! ignored or not understood), and garbage must not change a message
//! around it. Deterministic (a fixed seed), so a failure repeats.

use crate::{Format, LineStats, LogParser, Message, Outcome};

/// Lines in the forms of ../shared/reference/mail-logs-and-enforcement.md:
/// cPanel's and Debian's Exim, traditional, RFC 3339 and journal Postfix.
const EXIM: &[&str] = &[
    "2025-02-14 18:12:33.461 [46483] cwd=/home/bob/public_html/wp-content/uploads 4 args: /usr/sbin/sendmail -t -i -fwp@bob.example",
    "2025-02-14 18:12:33.462 [46483] 1tisxl-0000000C45u-3Ryp <= wp@bob.example U=bob P=local S=2035 id=a1@bob.example T=\"Re: \\\"order\\\" => shipped\" from <wp@bob.example> for a@example.net b@example.org",
    "2025-02-14 18:12:33 1ajLQo-0001wC-Pk <= info@shop.example H=(pc) [203.0.113.9]:51234 I=[192.0.2.1]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_login:info@shop.example S=4200 id=x@shop.example T=\"Invoice\" for r@example.net",
    "2025-02-14 18:12:34 1ajLQo-0001wC-Pk => r@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.25] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 OK queued\"",
    "2025-02-14 18:12:34 1ajLQo-0001wC-Pk -> s@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.25] C=\"250 OK\"",
    "2025-02-14 18:12:34 1ajLQo-0001wC-Pk ** dead@example.net R=dnslookup T=remote_smtp H=mx.example.net [198.51.100.25]: SMTP error from remote mail server after RCPT TO:<dead@example.net>: 550 5.1.1 <dead@example.net>: Recipient address rejected: User unknown",
    "2025-02-14 18:12:34 1ajLQo-0001wC-Pk == later@gmail.com R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [198.51.100.26]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail",
    "2025-02-14 18:12:35 1ajLQo-0001wC-Pk Sender identification U=bob D=bob.example S=wp@bob.example",
    "2025-02-14 18:12:35 1ajLQo-0001wC-Pk Completed",
    "2025-02-14 18:12:36 H=(x) [203.0.113.50]:4000 F=<a@b.example> rejected RCPT <c@d.example>: relay not permitted",
    "2025-02-14 18:12:37 1ajLQp-0001wD-Ab Domain bob.example has exceeded the max emails per hour (100/100 (100%)). Message discarded.",
    "2025-02-14 18:12:38 1ajLQq-0001wE-Cd <= <> R=1ajLQo-0001wC-Pk U=Debian-exim P=local S=1900 for info@shop.example",
    "2025-02-14 18:12:39 +0100 1ajLQr-0001wF-Ef <= a@b.example H=localhost [127.0.0.1] P=esmtp S=10 for c@d.example",
    "2025-02-14 18:12:40 Start queue run: pid=123",
    "2025-02-14 18:12:41 1ajLQs-0001wG-Gh H=(pc) [203.0.113.9]:5000 P=esmtpsa A=dovecot_login:Test@shop.example F=<test@shop.example> rejected after DATA: \"SpamAssassin as cpaneleximscanner detected OUTGOING smtp message as spam (16.3)\"",
];

const POSTFIX: &[&str] = &[
    "Feb 14 18:12:33 mx postfix/submission/smtpd[100]: 4A3B2C1D0E: client=unknown[203.0.113.9], sasl_method=PLAIN, sasl_username=info@shop.example",
    "Feb 14 18:12:33 mx postfix/pickup[101]: 5B4C3D2E1F: uid=1001 from=<wp@bob.example>",
    "Feb 14 18:12:33 mx postfix/cleanup[102]: 4A3B2C1D0E: message-id=<x@shop.example>",
    "Feb 14 18:12:33 mx postfix/cleanup[102]: 5B4C3D2E1F: warning: header X-PHP-Originating-Script: 1001:x7.php from local; from=<wp@bob.example> to=<c@d.example>",
    "Feb 14 18:12:33 mx postfix/qmgr[103]: 4A3B2C1D0E: from=<info@shop.example>, size=4200, nrcpt=2 (queue active)",
    "Feb 14 18:12:34 mx postfix/smtp[104]: 4A3B2C1D0E: to=<r@example.net>, relay=mx.example.net[198.51.100.25]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as ABC)",
    "Feb 14 18:12:34 mx postfix/smtp[104]: 4A3B2C1D0E: to=<dead@example.net>, orig_to=<alias@shop.example>, relay=mx.example.net[198.51.100.25]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=5.1.1, status=bounced (host mx.example.net[198.51.100.25] said: 550 5.1.1 user unknown (in reply to RCPT TO command))",
    "Feb 14 18:12:34 mx postfix/smtp[104]: 4A3B2C1D0E: to=<x@yahoo.com>, relay=mta5.am0.yahoodns.net[198.51.100.27]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.7.0, status=deferred (host said: 421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred)",
    "Feb 14 18:12:34 mx postfix/bounce[105]: 4A3B2C1D0E: sender non-delivery notification: 6C5D4E3F20",
    "Feb 14 18:12:35 mx postfix/cleanup[102]: 7D6E5F4031: milter-reject: END-OF-MESSAGE from unknown[203.0.113.9]: 5.7.1 held; from=<info@shop.example> to=<r@example.net> proto=ESMTP helo=<pc>",
    "Feb 14 18:12:35 mx postfix/qmgr[103]: 4A3B2C1D0E: from=<info@shop.example>, status=expired, returned to sender",
    "Feb 14 18:12:35 mx postfix/qmgr[103]: 4A3B2C1D0E: removed",
    "2025-02-14T18:12:36.123456+01:00 mx postfix/smtpd[100]: connect from unknown[203.0.113.9]",
    "2025-02-14T18:12:36+0100 mx postfix/smtpd[100]: disconnect from unknown[203.0.113.9] ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6",
    "Feb 14 18:12:37 mx dovecot: imap-login: Login: user=<info@shop.example>",
];

/// [`EXIM`] as Exim sends it through syslog: with its own stamp, without,
/// and split in parts (`[1/2]`, `[2/2]`; `[1\\2]` when a part ends at a
/// newline of the entry).
fn exim_through_syslog() -> Vec<String> {
    let mut out = Vec::new();
    for (i, l) in EXIM.iter().enumerate() {
        let head = format!("Feb 14 18:12:3{} web exim[{}]: ", i % 10, 4100 + i);
        out.push(format!("{head}{l}"));
        out.push(format!("{head}{}", &l[20..]));
        let (a, b) = l.split_at(l.len() / 2);
        let mark = if i % 3 == 0 { '\\' } else { '/' };
        out.push(format!("{head}[1{mark}2] {a}"));
        out.push(format!("{head}[2/2] {b}"));
    }
    out
}

/// xorshift64*: enough randomness for mutations, the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes a mutation likes: quotes, field syntax, arrows, NUL, bytes that
/// are not UTF-8.
const TRICKY: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"=",
    b"=>",
    b"<",
    b">",
    b" ",
    b":",
    b"[",
    b"]",
    b"\0",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"T=\"",
    b" for ",
    b" H=",
    b"status=",
    b"(",
    b")",
    b"\t",
];

fn mutate(line: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = line.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(5) {
            0 => {
                if at < b.len() {
                    b[at] = rng.next() as u8;
                }
            }
            1 => {
                let t = TRICKY[rng.below(TRICKY.len())];
                b.splice(at..at, t.iter().copied());
            }
            2 => {
                let end = (at + rng.below(12)).min(b.len());
                b.drain(at..end);
            }
            3 => {
                // A piece of the line again, elsewhere.
                let from = rng.below(b.len());
                let end = (from + rng.below(20)).min(b.len());
                let piece: Vec<u8> = b[from..end].to_vec();
                b.splice(at..at, piece);
            }
            _ => b.truncate(at),
        }
    }
    b.retain(|&c| c != b'\n');
    b
}

fn account(st: &LineStats) {
    assert_eq!(
        st.lines,
        st.understood + st.ignored + st.not_understood,
        "every line is understood, ignored or not understood: {st:?}"
    );
}

/// Feeds `lines` to a fresh parser: the messages and the counts.
fn run(format: Format, lines: &[Vec<u8>]) -> (Vec<Message>, LineStats) {
    let mut p = LogParser::new(Some(format), 2025);
    let mut out = Vec::new();
    for (n, l) in lines.iter().enumerate() {
        p.line_at(l, n as u64, || format!("line {n}"), &mut |m| out.push(m));
    }
    p.finish(&mut |m| out.push(m));
    (out, p.stats)
}

#[test]
fn no_prefix_or_mutation_of_a_line_breaks_the_parser() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let owned = |c: &[&str]| c.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    for (format, corpus) in [
        (Format::Exim, owned(EXIM)),
        (Format::Postfix, owned(POSTFIX)),
        (Format::Exim, exim_through_syslog()),
    ] {
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for l in &corpus {
            let b = l.as_bytes();
            // Every prefix: a line cut by a crash or a full disk.
            lines.extend((0..=b.len()).map(|k| b[..k].to_vec()));
            lines.extend((0..300).map(|_| mutate(b, &mut rng)));
        }
        // And bytes with no shape at all.
        for _ in 0..500 {
            let n = rng.below(300);
            lines.push(
                (0..n)
                    .map(|_| rng.next() as u8)
                    .filter(|&c| c != b'\n')
                    .collect(),
            );
        }
        let (messages, st) = run(format, &lines);
        assert_eq!(st.lines as usize, lines.len());
        account(&st);
        assert!(st.not_understood > 0, "{format:?}: nothing refused? {st:?}");
        // What came out is well formed: a time within the log's span.
        for m in &messages {
            assert!(!m.id.is_empty(), "{m:?}");
        }
    }
}

/// The parts of a message that garbage must not change.
fn essence(m: &Message) -> (String, String, Vec<(String, Outcome)>, bool) {
    (
        m.id.clone(),
        m.sender.to_string(),
        (m.recipients.iter())
            .map(|r| (r.address.clone(), r.outcome))
            .collect(),
        m.complete,
    )
}

#[test]
fn garbage_between_the_lines_of_messages_changes_none_of_them() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    for (format, corpus) in [(Format::Exim, EXIM), (Format::Postfix, POSTFIX)] {
        let clean: Vec<Vec<u8>> = corpus.iter().map(|l| l.as_bytes().to_vec()).collect();
        let (want, clean_st) = run(format, &clean);
        assert!(want.len() >= 2, "{format:?}: {want:?}");
        // Shapeless bytes, and lines of the right shape with a stamp but
        // text no parser knows, between every two lines.
        let stamp = match format {
            Format::Exim => "2025-02-14 18:12:34 ",
            Format::Postfix => "Feb 14 18:12:34 mx postfix/smtp[104]: ",
        };
        let mut dirty = Vec::new();
        let (mut garbage, mut shapeless) = (0, 0);
        for l in &clean {
            dirty.push(l.clone());
            for _ in 0..1 + rng.below(3) {
                const NOISE: &[u8] = b"!#%&*+,;?^~|{}\xff\xfe";
                let noise: Vec<u8> = (0..rng.below(200))
                    .map(|_| NOISE[rng.below(NOISE.len())])
                    .collect();
                let mut g = if rng.below(2) == 0 {
                    stamp.as_bytes().to_vec()
                } else {
                    shapeless += 1;
                    Vec::new()
                };
                g.extend(noise);
                dirty.push(g);
                garbage += 1;
            }
        }
        let (got, st) = run(format, &dirty);
        account(&st);
        assert_eq!(
            got.iter().map(essence).collect::<Vec<_>>(),
            want.iter().map(essence).collect::<Vec<_>>(),
            "{format:?}"
        );
        assert_eq!(st.lines, clean_st.lines + garbage, "{format:?}");
        // A line with the MTA's own head is its chatter (Exim writes
        // many kinds that name no message); one without is refused.
        assert_eq!(
            st.not_understood,
            clean_st.not_understood + shapeless,
            "{format:?}: each shapeless line is counted"
        );
        // ...and named by where it was.
        assert!(
            st.samples.iter().all(|(w, _)| w.starts_with("line ")),
            "{:?}",
            st.samples
        );
    }
}
