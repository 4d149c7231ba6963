//! The classifier against real rejection texts (the reference file's, and
//! the major providers' documented ones) and the bounce formats.

use super::*;

fn cat() -> Catalog {
    Catalog::builtin().unwrap()
}

fn c(reply: &str) -> Explanation {
    classify(reply, None, &cat())
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn dnsbl_rejections_name_the_list_and_our_ip() {
    let e =
        c("521-5.7.1 Service unavailable; client [203.0.113.225] blocked using dnsbl.sorbs.net");
    assert_eq!(e.category, Category::Blocklisted);
    assert!(e.permanent);
    assert_eq!(e.list.as_ref().unwrap().id.as_deref(), Some("sorbs"));
    assert_eq!(e.listed_ip, ip("203.0.113.225"));
    assert_eq!((e.code, e.enhanced.as_deref()), (Some(521), Some("5.7.1")));

    let e = c(
        "554 5.7.1 Service unavailable; Client host [198.51.100.7] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/198.51.100.7",
    );
    assert_eq!(e.list.as_ref().unwrap().id.as_deref(), Some("spamhaus-zen"));
    assert_eq!(e.listed_ip, ip("198.51.100.7"));

    let e = c("553 http://www.spamhaus.org/query/bl?ip=192.0.2.222");
    assert_eq!(e.category, Category::Blocklisted);
    assert_eq!(e.list.as_ref().unwrap().id.as_deref(), Some("spamhaus-zen"));
    assert_eq!(e.listed_ip, ip("192.0.2.222"));

    let e = c("554 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.225");
    assert_eq!(e.category, Category::Blocklisted);
    assert_eq!(e.provider.as_deref(), Some("proofpoint"));
    assert_eq!(e.listed_ip, ip("192.0.2.225"));

    let e = c(
        "450 4.7.1 Client host rejected: Try Later; see http://www.barracudacentral.org/rbl/removal-request [203.0.113.30]",
    );
    assert_eq!(e.list.as_ref().unwrap().id.as_deref(), Some("barracuda"));
    assert!(!e.permanent);

    // A list the catalog does not know is still named, from its zone.
    let e = c(
        "554 5.7.1 Service unavailable; Client host [203.0.113.8] blocked using rbl.example-list.net",
    );
    assert_eq!(e.list.as_ref().unwrap().id, None);
    assert_eq!(
        e.list.as_ref().unwrap().zone.as_deref(),
        Some("rbl.example-list.net")
    );
    assert_eq!(e.listed_ip, ip("203.0.113.8"));
}

#[test]
fn domain_listings_are_not_ip_listings() {
    let e = c(
        "550-5.1.0 MXIN506 MailFrom domain is listed in Spamhaus. Please check shop-example.com on spamhaus.org/query/lookup/",
    );
    assert_eq!(e.category, Category::Blocklisted);
    assert_eq!(e.list.as_ref().unwrap().id.as_deref(), Some("spamhaus-dbl"));
    assert_eq!(e.listed_ip, None);
    assert_eq!(e.listed_domain.as_deref(), Some("shop-example.com"));
}

#[test]
fn providers_own_blocks() {
    let e = c(
        "550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list please visit https://sender.office.com/ and follow the directions. (AS16012609)",
    );
    assert_eq!(e.category, Category::Blocklisted);
    assert_eq!(e.provider.as_deref(), Some("microsoft"));
    assert_eq!(e.listed_ip, ip("198.51.100.222"));
    let e = c(
        "550 5.7.1 Unfortunately, messages from [203.0.113.2] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
    );
    assert_eq!(
        (e.category, e.provider.as_deref()),
        (Category::Blocklisted, Some("microsoft"))
    );
    assert_eq!(e.listed_ip, ip("203.0.113.2"));
    let e = c(
        "421 4.7.0 [TSS04] Messages from 192.0.2.192 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.verizonmedia.com/error-codes",
    );
    assert_eq!(
        (e.category, e.provider.as_deref()),
        (Category::Reputation, Some("yahoo"))
    );
    assert_eq!(e.listed_ip, ip("192.0.2.192"), "not the 4.16.55.1 version");
    assert!(!e.permanent);
    let e = c(
        "421-4.7.28 [203.0.113.50] Our system has detected an unusual rate of\n421-4.7.28 unsolicited mail originating from your IP address. To protect our\n421 4.7.28 users from spam, mail sent from your IP address has been temporarily rate limited.",
    );
    assert_eq!(
        (e.category, e.provider.as_deref()),
        (Category::RateLimited, Some("google"))
    );
    assert_eq!(e.listed_ip, ip("203.0.113.50"));
    assert_eq!(e.enhanced.as_deref(), Some("4.7.28"));
    assert!(
        !e.reply.contains("421-"),
        "multi-line prefixes joined: {}",
        e.reply
    );
    let e = c(
        "550-5.7.1 [203.0.113.51] Our system has detected that this message is likely unsolicited mail. To reduce the amount of spam sent to Gmail, this message has been blocked.",
    );
    assert_eq!(
        (e.category, e.provider.as_deref()),
        (Category::SpamContent, Some("google"))
    );
    let e = c(
        "421-4.7.0 [203.0.113.52] Our system has detected that this message is suspicious due to the very low reputation of the sending IP address.",
    );
    assert_eq!(e.category, Category::Reputation);
    let e = c(
        "553 5.7.2 [BL23] Connections not accepted from IP addresses on Spamhaus XBL; see https://postmaster.yahooinc.com/error-codes",
    );
    assert_eq!(
        (e.category, e.provider.as_deref()),
        (Category::Blocklisted, Some("yahoo"))
    );
}

#[test]
fn the_other_categories() {
    let cases = [
        (
            "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in virtual mailbox table",
            Category::RecipientUnknown,
        ),
        (
            "550 5.1.1 The email account that you tried to reach does not exist.",
            Category::RecipientUnknown,
        ),
        (
            "552 5.2.2 The email account that you tried to reach is over quota.",
            Category::MailboxFull,
        ),
        ("452 4.2.2 Mailbox full", Category::MailboxFull),
        (
            "550 5.7.26 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM).",
            Category::Authentication,
        ),
        (
            "550 5.7.25 The IP address sending this message does not have a PTR record setup",
            Category::Authentication,
        ),
        (
            "554 5.7.1 Message rejected because it contains spam content",
            Category::SpamContent,
        ),
        ("550 5.7.1 Relaying denied", Category::Policy),
        (
            "552 5.3.4 Message size exceeds fixed maximum message size",
            Category::Policy,
        ),
        (
            "421 4.7.0 Too many connections from your IP, try again later",
            Category::RateLimited,
        ),
        ("451 4.4.1 Connection timed out", Category::Network),
        ("554 5.0.0 Something odd happened", Category::Other),
    ];
    for (reply, want) in cases {
        assert_eq!(c(reply).category, want, "{reply}");
        assert_eq!(c(reply).listed_ip, None, "{reply}");
    }
}

#[test]
fn the_receivers_own_ip_is_never_the_listed_one() {
    let e = classify(
        "host mx.dest.example[192.0.2.1] said: 550 5.7.1 Service unavailable; blocked using bl.spamcop.net",
        Some("mx.dest.example"),
        &cat(),
    );
    assert_eq!(e.list.as_ref().unwrap().id.as_deref(), Some("spamcop"));
    assert_eq!(e.listed_ip, None);
}

const DSN: &str = "From: MAILER-DAEMON@web1.host.example (Mail Delivery System)
To: info@shop.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"

--B
Content-Type: text/plain

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<friend@dest.example>: host mx.dest.example[192.0.2.1] said: 554 5.7.1
    Service unavailable; Client host [203.0.113.5] blocked using
    zen.spamhaus.org (in reply to RCPT TO command)

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; web1.host.example
Arrival-Date: Sat, 28 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; friend@dest.example
Original-Recipient: rfc822;friend@dest.example
Action: failed
Status: 5.7.1
Remote-MTA: dns; mx.dest.example
Diagnostic-Code: smtp; 554 5.7.1 Service unavailable; Client host [203.0.113.5]
    blocked using zen.spamhaus.org

Final-Recipient: rfc822; other@dest.example
Action: delayed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

--B
Content-Type: text/rfc822-headers

From: info@shop.example
Subject: hello
--B--
";

#[test]
fn a_postfix_dsn_explains_each_recipient() {
    let e = explain_bounce(DSN.as_bytes(), &cat()).unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].recipient.as_deref(), Some("friend@dest.example"));
    assert_eq!(e[0].category, Category::Blocklisted);
    assert_eq!(
        e[0].list.as_ref().unwrap().id.as_deref(),
        Some("spamhaus-zen")
    );
    assert_eq!(e[0].listed_ip, ip("203.0.113.5"));
    assert_eq!(e[0].remote_mta.as_deref(), Some("mx.dest.example"));
    assert!(
        e[0].explanation.contains("our sending IP 203.0.113.5"),
        "{}",
        e[0].explanation
    );
    assert_eq!(e[1].category, Category::MailboxFull);
    assert!(!e[1].permanent);
}

#[test]
fn exim_and_postfix_text_bounces_and_bare_replies() {
    let exim = "From: Mail Delivery System <Mailer-Daemon@web1.host.example>
To: info@shop.example
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  friend@outlook.example
    host outlook-example.mail.protection.outlook.com [192.0.2.10]
    SMTP error from remote mail server after RCPT TO:<friend@outlook.example>:
    550 5.7.606 Access denied, banned sending IP [203.0.113.9]. To request
    removal from this list please visit https://sender.office.com/

------ This is a copy of the message, including all the headers. ------
";
    let e = explain_bounce(exim.as_bytes(), &cat()).unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].recipient.as_deref(), Some("friend@outlook.example"));
    assert_eq!(e[0].provider.as_deref(), Some("microsoft"));
    assert_eq!(e[0].listed_ip, ip("203.0.113.9"));
    let text_only = DSN
        .split("--B\nContent-Type: message/delivery-status")
        .next()
        .unwrap();
    let e = explain_bounce(text_only.as_bytes(), &cat()).unwrap();
    assert_eq!(
        e[0].list.as_ref().unwrap().id.as_deref(),
        Some("spamhaus-zen")
    );
    assert_eq!(e[0].listed_ip, ip("203.0.113.5"));
    let e = explain_bounce(
        b"550 5.1.1 <x@y.example>: Recipient address rejected: User unknown\n",
        &cat(),
    )
    .unwrap();
    assert_eq!(e[0].category, Category::RecipientUnknown);
}

#[test]
fn unreadable_bounces_are_clear_errors() {
    assert_eq!(read(b""), Err(NotBounce::Empty));
    assert_eq!(
        read(b"Subject: hi\n\nnothing here\n"),
        Err(NotBounce::NoReply)
    );
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 256) as u8).collect();
    assert!(read(&garbage).is_err());
    // Cut anywhere: an answer or a clear error, never a crash.
    for n in (0..DSN.len()).step_by(37) {
        let r = explain_bounce(&DSN.as_bytes()[..n], &cat());
        assert!(
            matches!(r, Ok(_) | Err(NotBounce::NoReply | NotBounce::Empty)),
            "{n}: {r:?}"
        );
    }
}
