"""Writes a bounce corpus from cases.tsv: each case as a Postfix DSN, an
Exim text bounce, or a bare reply (its `format` column), plus labels.tsv
with the expected answers. The replies are real rejection texts (the
reference file's and the providers' published ones) with documentation
IPs; the message formats follow RFC 3464 and the MTAs' bounce templates.

usage: python3 bench/bounces/make_corpus.py OUTDIR
"""

import os
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))


def dsn(rcpt, host, reply):
    folded = "\n    ".join(textwrap.wrap(reply, 70))
    return f"""From: MAILER-DAEMON@web1.host.example (Mail Delivery System)
To: info@shop.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host web1.host.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{rcpt}>: host {host}[192.0.2.1] said: {folded} (in reply to RCPT TO command)

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; web1.host.example
Arrival-Date: Sat, 28 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: {"failed" if reply.startswith("5") else "delayed"}
Status: {reply.split()[1] if len(reply.split()) > 1 and reply.split()[1][:1].isdigit() else reply[0] + ".0.0"}
Remote-MTA: dns; {host}
Diagnostic-Code: smtp; {folded}

--BOUNDARY
Content-Type: text/rfc822-headers

From: info@shop.example
To: {rcpt}
Subject: Order confirmation
--BOUNDARY--
"""


def exim(rcpt, host, reply):
    body = "\n    ".join(textwrap.wrap(reply, 70))
    return f"""From: Mail Delivery System <Mailer-Daemon@web1.host.example>
To: info@shop.example
Subject: Mail delivery failed: returning message to sender
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {rcpt}
    host {host} [192.0.2.1]
    SMTP error from remote mail server after RCPT TO:<{rcpt}>:
    {body}

------ This is a copy of the message, including all the headers. ------

From: info@shop.example
Subject: Order confirmation
"""


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    labels = []
    with open(os.path.join(HERE, "cases.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, fmt, cat, lst, prov, ip, host, reply = line.rstrip("\n").split("\t")
            rcpt = f"friend@{host if host != '-' else 'dest.example'}"
            if fmt == "dsn":
                text = dsn(rcpt, host, reply)
            elif fmt == "exim":
                text = exim(rcpt, host, reply)
            else:
                text = reply + "\n"
            fname = f"{name}.eml"
            with open(os.path.join(out, fname), "w") as g:
                g.write(text)
            labels.append("\t".join([fname, cat, lst, prov, ip]))
    with open(os.path.join(out, "labels.tsv"), "w") as g:
        g.write("# file\tcategory\tlist\tprovider\tlisted_ip\n")
        g.write("\n".join(labels) + "\n")
    print(f"{len(labels)} bounces written to {out}")


if __name__ == "__main__":
    main()
