#!/usr/bin/env python3
"""Writes an Exim log of a forwarding server: every message comes from a
new outside sender (its own host and address) and is forwarded to Gmail,
one every 13 seconds (about 6,650 a day). The number of senders grows with
the log, which is what this log is for: memory against distinct senders.

usage: forward.py DAYS OUT"""
import datetime
import sys

CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def message_id(i):
    x, parts = i, []
    for n in (6, 6, 2):
        p = ""
        for _ in range(n):
            p += CHARS[x % 62]
            x //= 62
        parts.append(p)
    return "-".join(parts)


def main():
    days, path = int(sys.argv[1]), sys.argv[2]
    base = datetime.datetime(2024, 1, 1)
    total = days * 86400 // 13
    with open(path, "w") as out:
        for i in range(total):
            ts = (base + datetime.timedelta(seconds=i * 13)).strftime("%Y-%m-%d %H:%M:%S")
            mid = message_id(i * 7919 + 13)
            # Distinct client addresses (not routable: benchmark data only).
            ip = "%d.%d.%d.%d" % (64 | (i >> 16) & 255, (i >> 8) & 255, i & 255, (i * 7) % 250 + 1)
            to = "fwd%d@local.example" % (i % 300)
            out.write("%s %s <= sender%d@outside%d.example H=mx%d.outside.example [%s]:25 P=esmtps S=5000 id=%d@outside.example for %s\n"
                      % (ts, mid, i, i % 5000, i, ip, i, to))
            out.write('%s %s => real%d@gmail.example <%s> R=dnslookup T=remote_smtp H=gmail-smtp-in.l.google.com [142.250.1.27] C="250 2.0.0 OK"\n'
                      % (ts, mid, i % 300, to))
            out.write("%s %s Completed\n" % (ts, mid))


main()
