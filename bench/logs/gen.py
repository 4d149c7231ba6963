#!/usr/bin/env python3
"""Writes a large synthetic Exim or Postfix log with realistic line shapes
(the formats of ../shared/reference/mail-logs-and-enforcement.md): mostly
honest traffic from many senders (SMTP AUTH, scripts through sendmail,
inbound), some bounces and deferrals, and a few spamming senders.

usage: gen.py exim|postfix SIZE_MB OUT"""
import random
import sys

def exim(out, target):
    rnd = random.Random(42)
    written, n, t = 0, 0, 0
    ids = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    while written < target:
        n += 1
        t += rnd.randint(0, 2)
        day, rem = divmod(t, 86400)
        ts = "2024-%02d-%02d %02d:%02d:%02d" % (1 + day // 28 % 12, 1 + day % 28, rem // 3600, rem // 60 % 60, rem % 60)
        mid = "1r%s-%s-%s" % ("".join(rnd.choice(ids) for _ in range(4)), "".join(rnd.choice(ids) for _ in range(6)), "".join(rnd.choice(ids) for _ in range(2)))
        kind = rnd.random()
        # A shared server's population: 2,000 accounts, each with one
        # mailbox and a few scripts.
        acct = rnd.randint(1, 2000)
        user = "user%d" % acct
        rcpt = "r%d@dest%d.example" % (rnd.randint(1, 10**6), rnd.randint(1, 5000))
        lines = []
        if kind < 0.45:
            ip = "198.51.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254))
            lines.append('%s %s <= %s@site%d.example H=(client) [%s]:%d I=[192.0.2.1]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_login:%s@site%d.example S=%d id=%d@site.example T="Order %d => confirmation" for %s'
                         % (ts, mid, user, acct, ip, rnd.randint(1024, 65000), user, acct, rnd.randint(1000, 90000), n, n, rcpt))
        elif kind < 0.75:
            home = "/home/%s/public_html/%s" % (user, rnd.choice(["contact", "wp-admin", "shop/checkout", "wp-content/uploads/2024"]))
            lines.append("%s cwd=%s 4 args: /usr/sbin/sendmail -t -i -f%s@site.example" % (ts, home, user))
            lines.append('%s %s <= %s@site.example U=%s P=local S=%d T="Contact form message" for %s' % (ts, mid, user, user, rnd.randint(500, 9000), rcpt))
            lines.append("%s cwd=/var/spool/exim 3 args: /usr/sbin/exim -Mc %s" % (ts, mid))
        else:
            ip = "203.0.113.%d" % rnd.randint(1, 254)
            lines.append('%s %s <= sender%d@remote.example H=mail.remote.example [%s]:25 I=[192.0.2.1]:25 P=esmtps X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=no S=%d id=%d@remote.example T="Newsletter" for local%d@site.example'
                         % (ts, mid, n, ip, rnd.randint(1000, 50000), n, n % 500))
            lines.append('%s %s => local%d@site.example R=virtual_user T=dovecot_virtual_delivery C="250 2.0.0 saved"' % (ts, mid, n % 500))
            lines.append("%s %s Completed" % (ts, mid))
            out.write("\n".join(lines) + "\n")
            written += sum(len(l) + 1 for l in lines)
            continue
        lines.append("%s %s SMTP connection outbound %d %s dest.example %s" % (ts, mid, 1700000000 + t, mid, rcpt))
        r = rnd.random()
        if r < 0.03:
            lines.append("%s %s ** %s R=dnslookup T=remote_smtp H=mx.dest.example [198.51.100.9]: SMTP error from remote mail server after RCPT TO:<%s>: 550 5.1.1 <%s>: Recipient address rejected: User unknown" % (ts, mid, rcpt, rcpt, rcpt))
        elif r < 0.05:
            lines.append("%s %s == %s R=dnslookup T=remote_smtp defer (-46) H=gmail-smtp-in.l.google.com [198.51.100.10]: SMTP error from remote mail server after end of data: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail" % (ts, mid, rcpt))
        else:
            lines.append('%s %s => %s R=dkim_lookuphost T=dkim_remote_smtp H=mx.dest.example [198.51.100.9] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C="250 2.0.0 OK 1700000000 x%d"' % (ts, mid, rcpt, n))
        lines.append("%s %s Completed" % (ts, mid))
        s = "\n".join(lines) + "\n"
        out.write(s)
        written += len(s)

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

def postfix(out, target):
    rnd = random.Random(43)
    written, n, t = 0, 0, 0
    while written < target:
        n += 1
        t += rnd.randint(0, 2)
        day, rem = divmod(t, 86400)
        ts = "%s %2d %02d:%02d:%02d" % (MONTHS[day // 28 % 12], 1 + day % 28, rem // 3600, rem // 60 % 60, rem % 60)
        q = "%X" % (0x10000000 + n)
        acct = rnd.randint(1, 2000)
        user = "user%d" % acct
        rcpt = "r%d@dest%d.example" % (rnd.randint(1, 10**6), rnd.randint(1, 5000))
        pid = rnd.randint(1000, 60000)
        lines = []
        kind = rnd.random()
        if kind < 0.5:
            ip = "198.51.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254))
            lines.append("%s mx postfix/submission/smtpd[%d]: connect from unknown[%s]" % (ts, pid, ip))
            lines.append("%s mx postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s@site%d.example" % (ts, pid, q, ip, user, acct))
        else:
            lines.append("%s mx postfix/pickup[%d]: %s: uid=%d from=<%s@site.example>" % (ts, pid, q, 1000 + acct, user))
        lines.append("%s mx postfix/cleanup[%d]: %s: message-id=<%d.%s@site.example>" % (ts, pid + 1, q, n, user))
        lines.append("%s mx postfix/qmgr[999]: %s: from=<%s@site.example>, size=%d, nrcpt=1 (queue active)" % (ts, q, user, rnd.randint(500, 90000)))
        if kind < 0.5:
            lines.append("%s mx postfix/submission/smtpd[%d]: disconnect from unknown[%s] ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8" % (ts, pid, ip))
        r = rnd.random()
        if r < 0.03:
            st = "dsn=5.1.1, status=bounced (host mx.dest.example[198.51.100.9] said: 550 5.1.1 <%s>: Recipient address rejected: User unknown (in reply to RCPT TO command))" % rcpt
        elif r < 0.05:
            st = "dsn=4.7.28, status=deferred (host gmail-smtp-in.l.google.com[198.51.100.10] said: 421-4.7.28 Gmail has detected an unusual rate of unsolicited mail (in reply to end of DATA command))"
        else:
            st = "dsn=2.0.0, status=sent (250 2.0.0 OK 1700000000 x%d - gsmtp)" % n
        lines.append("%s mx postfix/smtp[%d]: %s: to=<%s>, relay=mx.dest.example[198.51.100.9]:25, delay=0.52, delays=0.05/0.01/0.2/0.26, %s" % (ts, pid + 2, q, rcpt, st))
        if not st.startswith("dsn=4"):
            lines.append("%s mx postfix/qmgr[999]: %s: removed" % (ts, q))
        s = "\n".join(lines) + "\n"
        out.write(s)
        written += len(s)

if __name__ == "__main__":
    fmt, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(path, "w", buffering=1 << 20) as f:
        (exim if fmt == "exim" else postfix)(f, size * 1024 * 1024)
