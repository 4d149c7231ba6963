//! The attack shapes are caught and the honest shapes are not, on
//! generated message streams (the real-log tests drive the same rules
//! through the parsers).

use maillog::message::Recipient;

use super::*;

struct Gen {
    t: i64,
    n: u64,
}

impl Gen {
    fn new() -> Self {
        Gen {
            t: 1_700_000_000,
            n: 0,
        }
    }

    /// A message from `sender`, `gap` seconds after the previous one.
    fn msg(
        &mut self,
        sender: Sender,
        ip: Option<&str>,
        rcpts: &[(&str, Outcome, &str)],
        gap: i64,
    ) -> Message {
        self.t += gap;
        self.n += 1;
        let at = Stamp {
            secs: self.t,
            millis: 0,
        };
        Message {
            id: format!("m{}", self.n),
            received: at,
            sender,
            envelope_from: "x@example.com".into(),
            account: None,
            client_ip: ip.map(|i| i.parse().unwrap()),
            protocol: None,
            size: Some(1000),
            subject: None,
            message_id: None,
            recipients: rcpts
                .iter()
                .map(|(a, o, reply)| Recipient {
                    address: a.to_string(),
                    outcome: *o,
                    remote: true,
                    reply: (!reply.is_empty()).then(|| reply.to_string()),
                    host: None,
                    deferrals: u32::from(*o == Outcome::Deferred),
                    at,
                    forwarded: false,
                })
                .collect(),
            attribution: None,
            rejected: None,
            bounce_of: None,
            relayed_as: None,
            probe: false,
            failed_logins: None,
            complete: true,
            line: format!("line of m{}", self.n),
            offset: 0,
        }
    }
}

fn auth(u: &str) -> Sender {
    Sender::new(SenderKind::Auth, u)
}

fn script(p: &str) -> Sender {
    Sender::new(SenderKind::Script, p)
}

const OK: &str = "250 2.0.0 OK";
const UNKNOWN: &str = "550 5.1.1 The email account that you tried to reach does not exist";
const GMAIL_RATE: &str = "421-4.7.28 Gmail has detected an unusual rate of unsolicited mail";

fn report(d: &Detector, s: &str) -> SenderReport {
    d.reports()
        .unwrap()
        .into_iter()
        .find(|r| r.sender.to_string() == s)
        .unwrap()
}

#[test]
fn compromised_mailbox_is_caught_within_its_first_few_hundred_messages() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let mut caught_at = None;
    for i in 0..1000u32 {
        // A botnet: a new /24 every 20 messages, a scraped list (30% gone).
        let ip = format!("203.0.{}.{}", i / 20 % 250, i % 200 + 1);
        let rcpt = format!("victim{i}@domain{}.example", i % 97);
        let (o, reply) = if i % 10 < 3 {
            (Outcome::Bounced, UNKNOWN)
        } else {
            (Outcome::Delivered, OK)
        };
        let m = g.msg(
            auth("info@shop.example"),
            Some(&ip),
            &[(&rcpt, o, reply)],
            2,
        );
        if let Some(c) = d.observe(&m)
            && c.to == Verdict::Spamming
            && caught_at.is_none()
        {
            caught_at = Some(i + 1);
        }
    }
    let n = caught_at.expect("never caught");
    assert!(n <= 300, "caught only after {n} messages");
    let r = report(&d, "auth:info@shop.example");
    assert_eq!(r.verdict, Verdict::Spamming);
    let codes: Vec<&str> = r.reasons.iter().map(|x| x.code).collect();
    assert!(
        codes.contains(&"bounce_ratio") && codes.contains(&"invalid_recipients"),
        "{codes:?}"
    );
    assert!(r.reasons.iter().any(|x| !x.samples.is_empty()));
    assert!(r.client_ips > 40);
}

#[test]
fn php_mailer_in_uploads_is_spamming() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let s = script("/home/bob/public_html/wp-content/uploads/2024/05/x7.php");
    for i in 0..60 {
        let rcpt = format!("r{i}@example.net");
        d.observe(&g.msg(s.clone(), None, &[(&rcpt, Outcome::Delivered, OK)], 30));
    }
    let r = report(&d, &s.to_string());
    assert_eq!(r.verdict, Verdict::Spamming);
    assert_eq!(r.reasons[0].code, "script_location");
}

#[test]
fn abused_contact_form_with_remote_spam_replies_is_spamming() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let s = script("/home/shop/public_html/contact");
    for i in 0..400 {
        let rcpt = format!("u{i}@gmail.com");
        let (o, reply) = if i % 8 == 0 {
            (Outcome::Deferred, GMAIL_RATE)
        } else {
            (Outcome::Delivered, OK)
        };
        d.observe(&g.msg(s.clone(), None, &[(&rcpt, o, reply)], 5));
    }
    let r = report(&d, &s.to_string());
    assert_eq!(r.verdict, Verdict::Spamming, "{:?}", r.reasons);
    assert!(
        r.reasons
            .iter()
            .any(|x| x.code == "spam_replies" && x.samples[0].contains("4.7.28"))
    );
}

const LISTED: &str =
    "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org";

#[test]
fn a_listing_of_the_servers_ip_makes_no_honest_sender_spamming() {
    // Spamhaus lists the server's IP: from then on every sender's mail to
    // that provider bounces with the listing. Three honest senders are
    // told of it (suspicious, `ip_blocked`), not called spamming; the
    // stolen mailbox that caused it still is, for its dead addresses.
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let honest = [
        auth("news@shop.example"),
        auth("amy@law.example"),
        script("/home/farm/public_html/contact"),
    ];
    let thief = auth("info@hacked.example");
    for i in 0..240usize {
        let listed = i >= 40;
        for (k, s) in honest.iter().enumerate() {
            let rcpt = format!("c{i}-{k}@dest{}.example", i % 9);
            let (o, reply) = if listed && i % 2 == 0 {
                (Outcome::Bounced, LISTED)
            } else {
                (Outcome::Delivered, OK)
            };
            d.observe(&g.msg(s.clone(), Some("198.51.100.10"), &[(&rcpt, o, reply)], 5));
        }
        let rcpt = format!("lead{i}@dest{}.example", i % 50);
        let (o, reply) = match i % 3 {
            0 => (Outcome::Bounced, UNKNOWN),
            1 if listed => (Outcome::Bounced, LISTED),
            _ => (Outcome::Delivered, OK),
        };
        d.observe(&g.msg(thief.clone(), Some("203.0.113.77"), &[(&rcpt, o, reply)], 5));
    }
    for s in &honest {
        let r = report(&d, &s.to_string());
        assert_eq!(r.verdict, Verdict::Suspicious, "{s}: {:?}", r.reasons);
        assert!(
            r.reasons.iter().any(|x| x.code == "ip_blocked"),
            "{:?}",
            r.reasons
        );
        assert!(
            r.reasons.iter().all(|x| x.code != "bounce_ratio"),
            "{:?}",
            r.reasons
        );
        // The report still counts what bounced.
        assert_eq!(r.bounced, 100);
    }
    let r = report(&d, &thief.to_string());
    assert_eq!(r.verdict, Verdict::Spamming, "{:?}", r.reasons);
    assert!(r.reasons.iter().any(|x| x.code == "invalid_recipients"));
    // Saved and taken back (a restart, a retired sender), the reason
    // comes back whole.
    let mut saved = Vec::new();
    d.take_changed(|s, _, b| -> Result<(), ()> {
        saved.push((s.clone(), b.to_vec()));
        Ok(())
    })
    .unwrap();
    let mut back = Detector::new(Thresholds::default());
    for (s, b) in &saved {
        back.restore(s, b).unwrap();
    }
    let r = report(&back, &honest[0].to_string());
    assert!(
        r.reasons.iter().any(|x| x.code == "ip_blocked"),
        "{:?}",
        r.reasons
    );
}

#[test]
fn honest_newsletter_is_not_spamming() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let s = auth("news@shop.example");
    // 5,000 subscribers in an hour from the shop's office IP, 1% stale
    // addresses, one grumpy reply.
    for i in 0..5000u32 {
        let rcpt = format!("sub{i}@isp{}.example", i % 400);
        let (o, reply) = match i % 100 {
            0 => (Outcome::Bounced, UNKNOWN),
            50 if i == 2550 => (Outcome::Deferred, GMAIL_RATE),
            _ => (Outcome::Delivered, OK),
        };
        d.observe(&g.msg(s.clone(), Some("198.51.100.10"), &[(&rcpt, o, reply)], 0));
    }
    let r = report(&d, &s.to_string());
    assert_ne!(r.verdict, Verdict::Spamming, "{:?}", r.reasons);
    assert_eq!(r.verdict, Verdict::Suspicious);
}

#[test]
fn busy_contact_form_and_quiet_server_are_ok() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let form = script("/home/shop/public_html/contact");
    for _ in 0..200 {
        d.observe(&g.msg(
            form.clone(),
            None,
            &[("owner@shop.example", Outcome::Delivered, OK)],
            60,
        ));
    }
    let quiet = auth("amy@example.org");
    for i in 0..10 {
        let rcpt = format!("friend{i}@example.net");
        d.observe(&g.msg(
            quiet.clone(),
            Some("198.51.100.20"),
            &[(&rcpt, Outcome::Delivered, OK)],
            600,
        ));
    }
    assert_eq!(report(&d, &form.to_string()).verdict, Verdict::Ok);
    assert_eq!(report(&d, &quiet.to_string()).verdict, Verdict::Ok);
}

#[test]
fn inbound_mail_is_not_judged_and_reports_sort_spamming_first() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let mut m = g.msg(
        Sender::new(SenderKind::Ip, "192.0.2.5"),
        Some("192.0.2.5"),
        &[("me@local.example", Outcome::Delivered, OK)],
        1,
    );
    m.recipients[0].remote = false;
    assert!(d.observe(&m).is_none());
    assert_eq!(d.senders(), 0);
    for i in 0..60 {
        let rcpt = format!("r{i}@example.net");
        d.observe(&g.msg(
            script("/home/b/public_html/.x/m.php"),
            None,
            &[(&rcpt, Outcome::Delivered, OK)],
            10,
        ));
        d.observe(&g.msg(
            auth("ok@example.org"),
            Some("198.51.100.1"),
            &[(&rcpt, Outcome::Delivered, OK)],
            10,
        ));
    }
    let r = d.reports().unwrap();
    assert_eq!(r[0].verdict, Verdict::Spamming);
    assert_eq!(r[1].verdict, Verdict::Ok);
}

#[test]
fn postfixs_address_probes_are_nobodys_sending() {
    // reject_unverified_sender on a busy inbound server: thousands of
    // probes an hour from double-bounce, half of them to addresses that
    // do not exist. They are no sender's mail.
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    for i in 0..2_000 {
        let rcpt = format!("s{i}@sender{}.example", i % 500);
        let (outcome, reply) = if i % 2 == 0 {
            (Outcome::Pending, "550 5.1.1 no such user")
        } else {
            (Outcome::Pending, "250 2.1.5 OK")
        };
        let mut m = g.msg(
            Sender::new(SenderKind::From, "double-bounce@mx.example"),
            None,
            &[(&rcpt, outcome, reply)],
            1,
        );
        m.probe = true;
        assert!(d.observe(&m).is_none());
    }
    assert_eq!(d.senders(), 0);
}

#[test]
fn thresholds_parse_from_toml_and_refuse_unknown_keys() {
    let t: Thresholds = toml::from_str("window = \"30m\"\nbounce_ratio_spamming = 0.5\n").unwrap();
    assert_eq!(t.window, Duration::from_secs(1800));
    assert_eq!(t.min_outcomes, 20);
    assert!(toml::from_str::<Thresholds>("bounce = 1").is_err());
}

#[test]
fn logins_older_than_their_window_stop_counting() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let s = auth("traveller@example.org");
    for ip in ["198.51.100.1", "203.0.113.1", "192.0.2.1"] {
        d.observe(&g.msg(
            s.clone(),
            Some(ip),
            &[("a@example.net", Outcome::Delivered, OK)],
            60,
        ));
    }
    assert_eq!(
        report(&d, "auth:traveller@example.org").current,
        Verdict::Suspicious
    );
    // Two days later, one login from home: the old networks are out of the
    // one-day window and must not count.
    d.observe(&g.msg(
        s.clone(),
        Some("198.51.100.1"),
        &[("a@example.net", Outcome::Delivered, OK)],
        2 * 86_400,
    ));
    let r = report(&d, "auth:traveller@example.org");
    assert_eq!(r.current, Verdict::Ok, "{:?}", r.reasons);
    assert_eq!(r.verdict, Verdict::Suspicious, "the worst verdict is kept");
}

#[test]
fn complaints_count_against_what_was_delivered() {
    // `n` delivered recipients in a day, then `k` complaints over the next
    // days: the verdict the complaints leave.
    fn verdict_after(n: u32, k: u32) -> (Verdict, Vec<String>) {
        let mut d = Detector::new(Thresholds::default());
        let mut g = Gen::new();
        let s = auth("news@shop.example");
        for i in 0..n {
            let rcpt = format!("sub{i}@isp{}.example", i % 400);
            d.observe(&g.msg(
                s.clone(),
                Some("198.51.100.10"),
                &[(&rcpt, Outcome::Delivered, OK)],
                10,
            ));
        }
        for i in 0..k {
            let at = Stamp {
                secs: g.t + 3600 * (i as i64 + 1),
                millis: 0,
            };
            d.complaint(&s, Some("shop"), at);
        }
        // The complaint rule alone (volume rules may fire on their own).
        let st = d.senders.get(&SenderRef::of(&s)).unwrap();
        let reasons: Vec<Reason> = evaluate(&d.t, st, true)
            .into_iter()
            .filter(|r| r.code == "complaints")
            .collect();
        let v = reasons
            .iter()
            .map(|r| r.severity)
            .max()
            .unwrap_or(Verdict::Ok);
        (
            v,
            reasons
                .iter()
                .map(|x| format!("{}: {}", x.code, x.detail))
                .collect(),
        )
    }
    // A big honest list with a few complaints: under 1 per thousand.
    assert_eq!(verdict_after(8000, 5).0, Verdict::Ok);
    // 2 per thousand: suspicious.
    let (v, why) = verdict_after(2000, 4);
    assert_eq!(v, Verdict::Suspicious, "{why:?}");
    assert!(
        why[0]
            .starts_with("complaints: 4 feedback-loop complaints in 7 days against 2000 delivered"),
        "{why:?}"
    );
    // 5 per thousand: spamming.
    assert_eq!(verdict_after(1000, 5).0, Verdict::Spamming);
    // Fewer than complaints_min never count.
    assert_eq!(verdict_after(100, 2).0, Verdict::Ok);
    // Complaints about a sender with nothing delivered in the window.
    let (v, why) = verdict_after(0, 3);
    assert_eq!(v, Verdict::Suspicious, "{why:?}");
}

#[test]
fn old_complaints_leave_the_window() {
    let mut d = Detector::new(Thresholds::default());
    let s = auth("a@shop.example");
    let day = 86_400;
    for i in 0..3 {
        d.complaint(
            &s,
            None,
            Stamp {
                secs: 1_700_000_000 + i,
                millis: 0,
            },
        );
    }
    assert_eq!(report(&d, &s.to_string()).current, Verdict::Suspicious);
    // Eight days later one more: the first three are out of the window.
    d.complaint(
        &s,
        None,
        Stamp {
            secs: 1_700_000_000 + 8 * day,
            millis: 0,
        },
    );
    assert_eq!(report(&d, &s.to_string()).current, Verdict::Ok);
}

/// Reports as JSON, to compare two detectors field by field.
/// The bursts of a long run trip the rules, and `other` reports as the
/// detector that kept everything.
fn same_reports_and_some_spamming(kept: &Detector, other: &Detector) {
    assert!(
        kept.reports()
            .unwrap()
            .iter()
            .any(|r| r.verdict == Verdict::Spamming),
        "the bursts trip the rules"
    );
    assert_eq!(all_reports(kept), all_reports(other));
}

fn all_reports(d: &Detector) -> String {
    d.reports()
        .unwrap()
        .iter()
        .map(|r| serde_json::to_string(r).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn batches_judge_as_one_message_at_a_time() {
    let (mut one, mut batched) = (
        Detector::new(Thresholds::default()),
        Detector::new(Thresholds::default()),
    );
    let mut g = Gen::new();
    let mut batch = Vec::new();
    for i in 0..900u32 {
        // Three senders interleaved, one of them turning bad half-way.
        let (s, ip) = match i % 3 {
            0 => (auth("a@shop.example"), format!("203.0.{}.7", i / 30)),
            1 => (script("/home/b/public_html/contact.php"), String::new()),
            _ => (auth("news@club.example"), "198.51.100.2".to_string()),
        };
        let rcpt = format!("r{i}@d{}.example", i % 50);
        let (o, reply) = if i > 450 && i % 3 == 0 && i % 2 == 0 {
            (Outcome::Bounced, UNKNOWN)
        } else {
            (Outcome::Delivered, OK)
        };
        let mut m = g.msg(s, (!ip.is_empty()).then_some(&ip), &[(&rcpt, o, reply)], 5);
        // A line long enough to be cut, with a character of two bytes.
        m.line = format!("é{}", "x".repeat(500));
        one.observe(&m);
        batch.push(Observation::of(&m).unwrap());
        // Batches of every size, not only full ones.
        if batch.len() == (i % 7 + 1) as usize {
            batched.apply_all(&mut batch);
            assert!(batch.is_empty());
        }
    }
    batched.apply_all(&mut batch);
    assert_eq!(all_reports(&one), all_reports(&batched));
    let r = report(&batched, "auth:a@shop.example");
    assert_eq!(r.verdict, Verdict::Spamming);
    let samples = &r
        .reasons
        .iter()
        .find(|x| x.code == "bounce_ratio")
        .unwrap()
        .samples;
    assert!(!samples.is_empty());
    let st = batched
        .senders
        .get(&SenderRef::of(&auth("a@shop.example")))
        .unwrap();
    assert_eq!(st.samples_msg[0].chars().count(), 400);
    assert!(st.samples_msg[0].starts_with("éx"));
}

#[test]
fn senders_idle_past_every_window_are_forgotten_once_an_hour() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let (quiet, busy) = (auth("quiet@example.org"), auth("busy@example.org"));
    let mut send = |d: &mut Detector, s: &Sender, gap| {
        d.observe(&g.msg(
            s.clone(),
            None,
            &[("r@example.net", Outcome::Delivered, OK)],
            gap,
        ));
    };
    send(&mut d, &quiet, 0);
    // A week and a day (the complaint window and a margin) later: kept.
    send(&mut d, &busy, 8 * 86_400);
    assert_eq!(d.forget_idle(), 0);
    assert_eq!(d.senders(), 2);
    // A minute past that, in the same hour of the clock: not looked at.
    send(&mut d, &busy, 60);
    assert_eq!(d.forget_idle(), 0);
    assert_eq!(d.senders(), 2);
    // The next hour: the quiet one goes, once.
    send(&mut d, &busy, 3600);
    assert_eq!(d.forget_idle(), 1);
    assert_eq!(d.forget_idle(), 0);
    assert_eq!(d.senders(), 1);
    assert_eq!(report(&d, "auth:busy@example.org").messages, 3);
    // Back again: a new record.
    send(&mut d, &quiet, 10);
    assert_eq!(report(&d, "auth:quiet@example.org").messages, 1);
}

#[test]
fn a_flood_of_late_complaints_counts_the_window() {
    // 6,000 complaints over ten days, arriving out of order (feedback
    // loops batch and delay their reports), against the plain list the
    // count once was: after each, those less than a window before the
    // newest.
    let window = Thresholds::default().complaint_window.as_secs() as i64;
    let (base, span, n) = (1_700_000_000i64, 10 * 86_400i64, 6_000i64);
    let mut c = super::Complaints::default();
    let mut plain: Vec<i64> = Vec::new();
    let mut dropped = 0;
    for i in 0..n {
        // A fixed permutation of the spread times.
        let t = base + (i * 7_919 % n) * span / n;
        c.add(t, window);
        plain.push(t);
        let newest = *plain.iter().max().unwrap();
        let before = plain.len();
        plain.retain(|x| newest - x < window);
        dropped += before - plain.len();
        if i % 250 == 0 || i == n - 1 {
            assert_eq!(c.count as usize, plain.len(), "after {i}");
        }
    }
    assert!(dropped > 1_000 && !plain.is_empty(), "{dropped}");
}

#[test]
fn retired_senders_come_back_as_they_were() {
    // Forty days of mail from senders that fall silent for one to three
    // weeks and come back (some in bursts that trip the rules), with some
    // messages up to three days late (swept stale): the reports are the
    // same whether the silent ones are retired or kept live.
    let mut kept = Detector::new(Thresholds::default());
    let mut retiring = Detector::new(Thresholds::default());
    retiring.retire_to(&std::env::temp_dir()).unwrap();
    let mut g = Gen::new();
    let senders: Vec<Sender> = (0..40)
        .map(|i| match i % 4 {
            0 => auth(&format!("box{i}@shop.example")),
            1 => script(&format!(
                "/home/u{i}/public_html/wp-content/uploads/x{i}.php"
            )),
            2 => Sender::new(SenderKind::Local, format!("user{i}")),
            _ => Sender::new(SenderKind::Ip, format!("203.0.113.{i}")),
        })
        .collect();
    let (mut retired, mut step) = (0, 0u64);
    for day in 0..40i64 {
        for (i, s) in senders.iter().enumerate() {
            // Sender i is silent on days where (day / (7 + i % 15)) is odd.
            if (day / (7 + (i as i64 % 15))) % 2 == 1 {
                continue;
            }
            // Bursts now and then, and always right before a silence.
            let quiet_next = ((day + 1) / (7 + (i as i64 % 15))) % 2 == 1;
            let burst = if day % 9 == (i as i64 % 9) || quiet_next {
                60
            } else {
                2
            };
            for k in 0..burst {
                step += 1;
                let ip = format!("198.51.{}.{}", step % 7, step % 200);
                let (o, reply) = match step % 11 {
                    0 => (Outcome::Bounced, UNKNOWN),
                    1 => (
                        Outcome::Deferred,
                        "421 4.7.28 unusual rate of unsolicited mail",
                    ),
                    _ => (Outcome::Delivered, OK),
                };
                let rcpt = format!("r{}@d{}.example", step % 97, step % 13);
                let mut m = g.msg(s.clone(), Some(&ip), &[(&rcpt, o, reply)], 20);
                if k == 0 && step.is_multiple_of(5) {
                    // Late: swept after three days.
                    let back = (step as i64 * 7_919) % (3 * 86_400);
                    m.received.secs -= back;
                    for r in &mut m.recipients {
                        r.at.secs -= back;
                    }
                }
                assert_eq!(kept.observe(&m), retiring.observe(&m), "step {step}");
                retired += retiring.retire_idle();
                if k == 1 && step.is_multiple_of(3) {
                    // A feedback-loop complaint now and then.
                    let at = Stamp {
                        secs: g.t,
                        millis: 0,
                    };
                    let a = kept.complaint(s, None, at);
                    assert_eq!(a, retiring.complaint(s, None, at), "complaint {step}");
                }
            }
        }
        g.t = 1_700_000_000 + (day + 1) * 86_400;
    }
    // What retiring keeps, sender by sender (the busiest hour as the
    // next message would record it).
    let lasting = |d: &Detector| {
        // The windows' contents as of the clock: what a next message sees.
        let t = Thresholds::default();
        let now = d.newest;
        let within = |at: i64, w: std::time::Duration| now - at < w.as_secs() as i64;
        let days = t.complaint_window.as_secs() as i64 / 86_400;
        let retired = d.spill.iter().flat_map(|s| {
            s.index
                .iter()
                .map(|(k, e)| (k.clone(), s.read(e).expect("read back")))
        });
        let live = d.senders.iter().map(|(k, st)| (k.clone(), (**st).clone()));
        let mut v: Vec<String> = live
            .chain(retired)
            .map(|(k, st)| {
                let recent = (
                    st.buckets
                        .iter()
                        .filter(|(m, _)| within(m * 60, t.window))
                        .map(|(_, c)| c.messages)
                        .sum::<u32>(),
                    st.domains
                        .iter()
                        .filter(|(_, m)| within(*m * 60, t.window))
                        .count(),
                    st.logins
                        .iter()
                        .filter(|(_, m)| within(*m * 60, t.login_window))
                        .count(),
                    st.delivered_since(now.div_euclid(86_400), days),
                );
                format!(
                    "{} {:?} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                    k.sender,
                    recent,
                    st.total,
                    st.history_peak.max(st.window.messages),
                    st.samples_msg,
                    st.samples_bounce,
                    st.samples_spam,
                    (st.peak, st.current, st.peak_at),
                    (st.first_seen, st.last_seen),
                    (st.all_domains.count(), st.client_ips.count()),
                    st.complaints.count,
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(lasting(&kept), lasting(&retiring));
    assert!(retired > 20, "{retired}");
    let on_disk = retiring.spill.as_ref().unwrap().index.len();
    assert!(
        on_disk > 0 && retiring.senders.len() < senders.len(),
        "{on_disk}"
    );
    assert!(retiring.retire_error().is_none());
    assert_eq!(retiring.senders(), kept.senders());
    same_reports_and_some_spamming(&kept, &retiring);
}

#[test]
fn a_scratch_file_that_cannot_be_written_keeps_senders_in_memory() {
    let mut d = Detector::new(Thresholds::default());
    // Open for reading only: every write fails.
    d.spill = Some(super::retire::Spill::on(
        std::fs::File::open("/dev/null").unwrap(),
    ));
    let mut g = Gen::new();
    let one = |g: &mut Gen, s: &str, gap| {
        g.msg(
            auth(s),
            None,
            &[("r@example.net", Outcome::Delivered, OK)],
            gap,
        )
    };
    let mut kept = Detector::new(Thresholds::default());
    for (s, gap) in [
        ("a@x.example", 0),
        ("b@x.example", 20 * 86_400),
        ("a@x.example", 60),
    ] {
        let m = one(&mut g, s, gap);
        d.observe(&m);
        kept.observe(&m);
        assert_eq!(d.retire_idle(), 0);
    }
    assert!(d.retire_error().unwrap().contains("scratch file"));
    assert_eq!((d.senders.len(), d.retired()), (2, 0));
    assert_eq!(all_reports(&d), all_reports(&kept));
    assert_eq!(report(&d, "auth:a@x.example").messages, 2);
}

#[test]
fn a_newsletter_over_cpanels_hourly_limit_is_held_not_bouncing() {
    // 1,000 subscribers in an hour on a cPanel server capped at 500 an
    // hour: half the recipients are discarded by the server's own limit.
    // Those are not bounces (the bounce ratio would say 50%), only a sign.
    const CAP: &str = "Domain shop.example has exceeded the max emails per hour (500/500 (100%)) allowed. Message discarded.";
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let s = auth("news@shop.example");
    for i in 0..1000u32 {
        let rcpt = format!("sub{i}@isp{}.example", i % 40);
        let (o, reply) = if i >= 500 {
            (Outcome::Bounced, CAP)
        } else if i % 100 == 0 {
            (Outcome::Bounced, UNKNOWN)
        } else {
            (Outcome::Delivered, OK)
        };
        d.observe(&g.msg(s.clone(), Some("198.51.100.10"), &[(&rcpt, o, reply)], 3));
    }
    let r = report(&d, &s.to_string());
    assert_eq!(r.verdict, Verdict::Suspicious, "{:?}", r.reasons);
    let codes: Vec<&str> = r.reasons.iter().map(|x| x.code).collect();
    assert!(codes.contains(&"held_by_limits"), "{codes:?}");
    assert!(!codes.contains(&"bounce_ratio"), "{codes:?}");
    let held = r
        .reasons
        .iter()
        .find(|x| x.code == "held_by_limits")
        .unwrap();
    assert!(
        held.detail
            .contains("held back or discarded by this server's hourly limits")
    );
    assert!(held.samples[0].contains("max emails per hour"));
    assert_eq!(r.bounced, 5);
}

/// Forty days of senders that fall silent and come back, with late
/// messages and complaints (as in `retired_senders_come_back_as_they_were`).
fn forty_days(mut each: impl FnMut(Option<&Message>, Option<(&Sender, Stamp)>)) {
    let mut g = Gen::new();
    let senders: Vec<Sender> = (0..24)
        .map(|i| match i % 3 {
            0 => auth(&format!("box{i}@shop.example")),
            1 => script(&format!(
                "/home/u{i}/public_html/wp-content/uploads/x{i}.php"
            )),
            _ => Sender::new(SenderKind::Local, format!("user{i}")),
        })
        .collect();
    let mut step = 0u64;
    for day in 0..40i64 {
        for (i, s) in senders.iter().enumerate() {
            if (day / (5 + (i as i64 % 11))) % 2 == 1 {
                continue;
            }
            let burst = if day % 9 == (i as i64 % 9) { 40 } else { 2 };
            for k in 0..burst {
                step += 1;
                let ip = format!("198.51.{}.{}", step % 7, step % 200);
                let (o, reply) = match step % 11 {
                    0 => (Outcome::Bounced, UNKNOWN),
                    1 => (Outcome::Deferred, GMAIL_RATE),
                    _ => (Outcome::Delivered, OK),
                };
                let rcpt = format!("r{}@d{}.example", step % 97, step % 13);
                let mut m = g.msg(s.clone(), Some(&ip), &[(&rcpt, o, reply)], 20);
                if k == 0 && step.is_multiple_of(5) {
                    let back = (step as i64 * 7_919) % (3 * 86_400);
                    m.received.secs -= back;
                    for r in &mut m.recipients {
                        r.at.secs -= back;
                    }
                }
                each(Some(&m), None);
                if k == 1 && step.is_multiple_of(3) {
                    let at = Stamp {
                        secs: g.t,
                        millis: 0,
                    };
                    each(None, Some((s, at)));
                }
            }
        }
        g.t = 1_700_000_000 + (day + 1) * 86_400;
    }
}

#[test]
fn saved_senders_come_back_after_forgetting_and_restarts() {
    // The daemon's way: changed senders saved now and then, idle ones
    // forgotten, a forgotten one taken back from the store when it sends
    // again, and twice a restart that reads every saved sender back. At
    // every step it judges as a detector that kept everything.
    let mut kept = Detector::new(Thresholds::default());
    let mut daemon = Detector::new(Thresholds::default());
    daemon.saving_changes();
    let mut store: std::collections::HashMap<String, Vec<u8>> = Default::default();
    let save = |d: &mut Detector, store: &mut std::collections::HashMap<String, Vec<u8>>| {
        d.take_changed(|s, _, b| -> Result<(), ()> {
            store.insert(s.to_string(), b.to_vec());
            Ok(())
        })
        .unwrap()
    };
    let back =
        |d: &mut Detector, s: &Sender, store: &std::collections::HashMap<String, Vec<u8>>| {
            if !d.knows(s)
                && let Some(b) = store.get(&s.to_string())
            {
                d.restore(s, b).unwrap();
            }
        };
    let (mut step, mut forgotten, mut restored_at_restart) = (0u64, 0, 0);
    forty_days(|m, c| {
        step += 1;
        match (m, c) {
            (Some(m), _) => {
                back(&mut daemon, &m.sender, &store);
                assert_eq!(kept.observe(m), daemon.observe(m), "step {step}");
            }
            (None, Some((s, at))) => {
                back(&mut daemon, s, &store);
                assert_eq!(
                    kept.complaint(s, None, at),
                    daemon.complaint(s, None, at),
                    "complaint {step}"
                );
            }
            _ => unreachable!(),
        }
        // Forgetting is tried after every message, saving seldom: only
        // senders saved since their last change may go.
        forgotten += daemon.forget_idle();
        if step.is_multiple_of(700) {
            save(&mut daemon, &mut store);
        }
        if step == 1_500 || step == 3_000 {
            save(&mut daemon, &mut store);
            let newest = daemon.newest;
            let idle = daemon.idle_secs();
            daemon = Detector::new(Thresholds::default());
            daemon.saving_changes();
            for (name, b) in &store {
                let s: Sender = name.parse().unwrap();
                let mut probe = Detector::new(Thresholds::default());
                probe.restore(&s, b).unwrap();
                // As the daemon reads them: those seen within the memory.
                if newest - probe.senders.values().next().unwrap().last_seen.secs <= idle {
                    daemon.restore(&s, b).unwrap();
                    restored_at_restart += 1;
                }
            }
            daemon.newest = daemon.newest.max(newest);
        }
    });
    assert!(forgotten > 10, "{forgotten} of {step}");
    assert!(restored_at_restart > 10, "{restored_at_restart}");
    // Every sender back for the reports.
    save(&mut daemon, &mut store);
    for (name, b) in &store {
        daemon.restore(&name.parse().unwrap(), b).unwrap();
    }
    same_reports_and_some_spamming(&kept, &daemon);
}

#[test]
fn saved_state_format_is_pinned() {
    // A sender's saved bytes, fixed: if this fails, the shape of
    // `SenderState` changed, and states saved by an older daemon would be
    // misread. Bump STATE_FORMAT, then paste the new bytes here.
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let s = script("/home/a/public_html/wp-content/uploads/x.php");
    for (o, reply) in [(Outcome::Delivered, OK), (Outcome::Bounced, UNKNOWN)] {
        d.observe(&g.msg(
            s.clone(),
            Some("192.0.2.1"),
            &[("r@d.example", o, reply)],
            60,
        ));
    }
    d.complaint(
        &s,
        Some("a"),
        Stamp {
            secs: g.t,
            millis: 0,
        },
    );
    let mut saved = Vec::new();
    d.take_changed(|_, _, b| -> Result<(), ()> {
        saved = b.to_vec();
        Ok(())
    })
    .unwrap();
    let hex: String = saved.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(STATE_FORMAT, 3);
    assert_eq!(
        hex,
        concat!(
            "010161b58cfc97e7c1d2a45402acd4821b01010100000000000000aed4821b010101010001000000",
            "000202020100010000000001bde1badbed88a8ba4faed4821b000202020100010000000000bde1ba",
            "dbed88a8ba4f0000000100ebaef8cfe0bf96897d00000001f8c49fd50c00f0c59fd50c0000bcd239",
            "014f7240642e6578616d706c653a2035353020352e312e312054686520656d61696c206163636f75",
            "6e74207468617420796f7520747269656420746f20726561636820646f6573206e6f742065786973",
            "74014f7240642e6578616d706c653a2035353020352e312e312054686520656d61696c206163636f",
            "756e74207468617420796f7520747269656420746f20726561636820646f6573206e6f7420657869",
            "7374000000020a6c696e65206f66206d310a6c696e65206f66206d320101010f7363726970745f6c",
            "6f636174696f6e013a7468652073637269707420697320696e20616e2075706c6f61647320646972",
            "6563746f72793b2031206d65737361676520696e203120686f7572010a6c696e65206f66206d31f8",
            "c49fd50c00aed4821b01f0c59fd50c010101b6b3020100",
        ),
        "saved bytes changed: bump STATE_FORMAT"
    );
}

#[test]
fn a_login_after_failures_from_many_addresses_is_suspicious_and_a_stale_client_is_not() {
    let mut d = Detector::new(Thresholds::default());
    let mut g = Gen::new();
    let failed = |count, ips| {
        Some(Box::new(maillog::logins::FailedLogins {
            count,
            ips,
            first: Stamp { secs: 0, millis: 0 },
            last: Stamp { secs: 1, millis: 0 },
            line: "dovecot_login authenticator failed for (x) [198.51.100.7]:5: 535 (set_id=info@shop.example)".into(),
        }))
    };
    let ok = [("friend@example.net", Outcome::Delivered, OK)];
    // Guessed: 40 failures from 12 addresses, then two logins.
    let mut m = g.msg(auth("info@shop.example"), Some("192.0.2.8"), &ok, 60);
    m.failed_logins = failed(40, 12);
    d.observe(&m);
    d.observe(&g.msg(auth("info@shop.example"), Some("192.0.2.8"), &ok, 60));
    // The user's own phone with an old password: 200 failures, one address.
    let mut m = g.msg(auth("bob@shop.example"), Some("192.0.2.9"), &ok, 60);
    m.failed_logins = failed(200, 1);
    d.observe(&m);
    // A few typos from three places.
    let mut m = g.msg(auth("carol@shop.example"), Some("192.0.2.10"), &ok, 60);
    m.failed_logins = failed(4, 3);
    d.observe(&m);

    let r = report(&d, "auth:info@shop.example");
    assert_eq!(r.verdict, Verdict::Suspicious, "{r:?}");
    let reason = r
        .reasons
        .iter()
        .find(|x| x.code == "failed_logins")
        .unwrap();
    assert!(
        reason.detail.contains("40 failed logins from 12 addresses"),
        "{}",
        reason.detail
    );
    assert!(reason.samples[0].contains("authenticator failed"));
    for s in ["auth:bob@shop.example", "auth:carol@shop.example"] {
        assert_eq!(report(&d, s).verdict, Verdict::Ok, "{s}");
    }

    // A day later the failures have aged out of the login window.
    let later = g.msg(
        auth("info@shop.example"),
        Some("192.0.2.8"),
        &ok,
        86_400 + 60,
    );
    d.observe(&later);
    let r = report(&d, "auth:info@shop.example");
    assert_eq!(r.current, Verdict::Ok, "{r:?}");
}

#[test]
fn windows_are_said_in_words() {
    use std::time::Duration;
    let s = |secs| crate::span(Duration::from_secs(secs));
    assert_eq!(s(3_600), "1 hour");
    assert_eq!(s(86_400), "1 day");
    assert_eq!(s(7 * 86_400), "7 days");
    assert_eq!(s(90 * 60), "90 minutes");
    assert_eq!(s(2 * 3_600), "2 hours");
    assert_eq!(s(45), "45s");
    assert_eq!(crate::span(Duration::from_millis(1_500)), "1s 500ms");
}
