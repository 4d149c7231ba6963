#!/usr/bin/env python3
"""Writes the starting inputs of each fuzz target under fuzz/corpus/TARGET:
log lines the repo's own tests use (string literals shaped like Exim or
Postfix lines), a slice of bench/logs/gen.py's synthetic logs, the real
feedback-loop messages of ../shared/data/fbl, the bounces of the feedback
tests, a policy request as Postfix sends it, and a log compressed each way
logrotate may. libFuzzer grows each corpus from there.

usage: seeds.py REPO_DIR"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

repo = sys.argv[1]
corpus = os.path.join(repo, "fuzz", "corpus")


def target_dir(name):
    d = os.path.join(corpus, name)
    os.makedirs(d, exist_ok=True)
    return d


def literal_lines():
    exim, postfix = [], []
    lit = re.compile(r'"((?:[^"\\]|\\.)*)"')
    for f in glob.glob(os.path.join(repo, "crates", "**", "*.rs"), recursive=True):
        src = open(f, encoding="utf-8", errors="replace").read()
        for m in lit.finditer(src):
            s = m.group(1).replace('\\"', '"').replace("\\n", "\n").replace("\\t", "\t")
            for line in s.encode("utf-8", "replace").split(b"\n"):
                if re.match(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line):
                    exim.append(line)
                elif re.match(rb"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\dT)", line):
                    postfix.append(line)
    return exim, postfix


def generated(fmt):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "log")
        subprocess.run([sys.executable, os.path.join(repo, "bench", "logs", "gen.py"), fmt, "1", out], check=True)
        with open(out, "rb") as fh:
            return fh.read(40_000).split(b"\n")[:-1]


def logs():
    exim, postfix = literal_lines()
    exim += generated("exim")
    postfix += generated("postfix")
    # The first byte picks the format (see the targets), and split_same's
    # second where the log is cut in two chunks; runs of twelve lines keep
    # a message's lines together.
    for name, head in (("maillog_lines", b""), ("split_same", b"\x80")):
        d = target_dir(name)
        n = 0
        for pick, lines in ((0, exim), (1, postfix), (2, exim + postfix)):
            for i in range(0, len(lines), 12):
                with open(os.path.join(d, "seed%d" % n), "wb") as fh:
                    fh.write(bytes([pick]) + head + b"\n".join(lines[i:i + 12]))
                n += 1


def mail():
    d = target_dir("feedback_mail")
    for f in glob.glob(os.path.join(repo, "..", "shared", "data", "fbl", "*.eml")):
        shutil.copy(f, d)
    src = open(os.path.join(repo, "crates", "feedback", "src", "bounce", "tests.rs")).read()
    for n, m in enumerate(re.finditer(r'"(From: .*?)"', src, re.S)):
        with open(os.path.join(d, "bounce%d" % n), "w") as fh:
            fh.write(m.group(1).replace('\\"', '"').replace("\\n", "\n"))


def policy():
    req = "\n".join([
        "request=smtpd_access_policy", "protocol_state=RCPT", "protocol_name=ESMTP",
        "client_address=192.0.2.7", "client_name=mail.example.com", "helo_name=mail.example.com",
        "sender=bob@example.com", "recipient=alice@example.net", "recipient_count=0",
        "queue_id=", "instance=123.456.7", "size=12345", "sasl_method=plain",
        "sasl_username=bob@example.com", "local_user=",
        "x_php_originating_script=1000:mailer.php",
        "x_source_args=/usr/bin/php /home/bob/public_html/wp-content/uploads/x.php",
        "account=bob", "", ""])
    d = target_dir("policy_request")
    with open(os.path.join(d, "rcpt"), "w") as fh:
        fh.write(req)
    with open(os.path.join(d, "eom3"), "w") as fh:
        fh.write(req.replace("protocol_state=RCPT", "protocol_state=END-OF-MESSAGE") * 3)


def packed():
    d = target_dir("unpack")
    plain = b"\n".join(generated("exim")[:30]) + b"\n"
    with open(os.path.join(d, "plain"), "wb") as fh:
        fh.write(plain)
    for tool in ("gzip", "xz", "bzip2", "zstd"):
        if shutil.which(tool):
            out = subprocess.run([tool, "-c"], input=plain, capture_output=True, check=True).stdout
            with open(os.path.join(d, tool), "wb") as fh:
                fh.write(out)
            with open(os.path.join(d, tool + "-twice"), "wb") as fh:
                fh.write(out + out)


logs()
mail()
policy()
packed()
