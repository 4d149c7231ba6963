#!/usr/bin/env python3
"""The peer side of bench.py: pydnsbl's bulk_check over the same IPs and
zones, through the same rbldnsd. Writes one JSON line per IP with each
zone's answer as pydnsbl reports it: listed (in detected_by), error (in
failed_providers) or clean.

usage: pydnsbl_check.py NAMESERVER_IP ZONES_FILE IPS_FILE CONCURRENCY"""
import json
import sys

import pydnsbl
from pydnsbl.providers import Provider


def main():
    ns, zones_file, ips_file, conc = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    zones = [z.strip() for z in open(zones_file) if z.strip()]
    ips = [i.strip() for i in open(ips_file) if i.strip()]
    checker = pydnsbl.DNSBLIpChecker(providers=[Provider(z) for z in zones], concurrency=conc)
    # pydnsbl has no nameserver option; its aiodns resolver takes one (port 53 only).
    checker._resolver.nameservers = [ns]
    out = sys.stdout
    for r in checker.bulk_check(ips):
        failed = {p.host for p in r.failed_providers}
        st = {}
        for p in r.providers:
            st[p.host] = "error" if p.host in failed else ("listed" if p.host in r.detected_by else "clean")
        out.write(json.dumps({"ip": r.addr, "zones": st}) + "\n")


if __name__ == "__main__":
    main()
