#!/usr/bin/env python3
"""DNSBL lookup benchmark: `unlisted check` against pydnsbl, side by side.

One run does everything on loopback only:
  1. reads the catalog (`unlisted lists --json`) and takes every live list
     that accepts IPv4 (keyed zones get the key `benchkey`);
  2. writes an rbldnsd zone per list with a known truth: 5% of the N test
     IPs (198.18.0.0/15, RFC 2544 benchmark space) listed with the list's
     first listing code, and on Spamhaus zones 2% answered with Spamhaus's
     "public resolver" error code 127.255.255.254, which is not a listing;
  3. starts rbldnsd on 127.0.0.153:53 and measures its ceiling with dnsperf
     on the same query names;
  4. runs `unlisted check` and pydnsbl on the same IPs and zones, measuring
     wall time and peak RSS of each process (os.wait4), and scores every
     answer against the truth;
  5. repeats `unlisted check` at several IP counts to show memory flat in
     the number of IPs.
Prints a Markdown report on stdout.
"""
import ipaddress
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "unlisted")
NS_IP = "127.0.0.153"
KEY = "benchkey"
BASE = int(ipaddress.ip_address("198.18.0.0"))
REPEAT = int(os.environ.get("REPEAT", "3"))
CONCURRENCY = 200  # pydnsbl's default


def ips(n):
    return [str(ipaddress.ip_address(BASE + i)) for i in range(n)]


def first_code(lst):
    for c in lst.get("codes", []):
        if c.get("kind", "listed") == "listed":
            return c["answer"].split("-")[0]
    return lst["listed"][0].split("-")[0]


def ipv4_lists():
    out = subprocess.run([BIN, "lists", "--json"], check=True, capture_output=True, text=True).stdout
    lists = [json.loads(line) for line in out.splitlines()]
    lists = [l for l in lists if l["status"] == "active" and "ipv4" in l["kinds"]]
    for l in lists:
        l["zone_q"] = l["zone"].replace("{key}", KEY)
        l["spamhaus_errors"] = any(c["answer"].startswith("127.255.255.254") for c in l.get("codes", []))
    return lists


def truth(n, lists):
    """expected[(ip_index, list_index)] = (status, code) for non-clean ones."""
    exp = {}
    for j, l in enumerate(lists):
        code = first_code(l)
        for i in range(n):
            if (i * 7 + j * 13) % 20 == 0:
                exp[(i, j)] = ("listed", code)
            elif l["spamhaus_errors"] and i % 50 == 1:
                exp[(i, j)] = ("error", "127.255.255.254")
    return exp


def write_zones(d, n, lists, exp):
    addrs = ips(n)
    args = []
    for j, l in enumerate(lists):
        lines = []
        if "127.0.0.2" in (l.get("test") or {}).get("listed", []):
            lines.append("127.0.0.2 :%s:test point" % first_code(l))
        for i in range(n):
            e = exp.get((i, j))
            if e:
                lines.append("%s :%s:bench %s" % (addrs[i], e[1], e[0]))
        name = "z%d.data" % j
        with open(os.path.join(d, name), "w") as f:
            f.write("\n".join(lines) + "\n")
        args.append("%s:ip4set:%s" % (l["zone_q"], name))
    return args


def dns_ready():
    q = b"\x42\x42\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05ready\x04test\x00\x00\x01\x00\x01"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, (NS_IP, 53))
        return s.recv(512)[:2] == b"\x42\x42"
    except OSError:
        return False
    finally:
        s.close()


def start_rbldnsd(d, args):
    p = subprocess.Popen(["rbldnsd", "-n", "-q", "-r", d, "-b", NS_IP + "/53"] + args,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if dns_ready():
            return p
        time.sleep(0.05)
    p.kill()
    sys.exit("rbldnsd did not start on %s:53" % NS_IP)


def measure(cmd, stdout_path):
    """Runs cmd under GNU time; returns (wall seconds, peak RSS MiB, exit
    code). GNU time, not this process's wait4, reports the RSS: a child
    forked from this (large) Python process counts the parent's pages
    before its exec."""
    rss_file = stdout_path + ".time"
    with open(stdout_path, "w") as out:
        t0 = time.monotonic()
        rc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd,
                            stdout=out, stderr=subprocess.DEVNULL).returncode
        wall = time.monotonic() - t0
    with open(rss_file) as f:
        rss_kb = int(f.read().split()[-1])
    return wall, rss_kb / 1024.0, rc


def score(answers, n, lists, exp):
    """answers[(ip, zone)] = status; returns (wrong, missing, examples)."""
    addrs = ips(n)
    wrong, missing, examples = 0, 0, []
    for i in range(n):
        for j, l in enumerate(lists):
            want = exp.get((i, j), ("clean", None))[0]
            got = answers.get((addrs[i], l["zone_q"]))
            if got is None:
                missing += 1
            elif got != want:
                wrong += 1
                if len(examples) < 3:
                    examples.append("%s on %s: %s, expected %s" % (addrs[i], l["id"], got, want))
    return wrong, missing, examples


def ours_answers(path):
    a = {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if o.get("type") != "target":
                continue
            for r in o["results"]:
                a[(o["target"], r["zone"])] = r["status"]
    return a


def pydnsbl_answers(path):
    a = {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            for zone, st in o["zones"].items():
                a[(o["ip"], zone)] = st
    return a


def run_ours(d, n, ipfile, out, extra=()):
    cfg = os.path.join(d, "bench.toml")
    with open(cfg, "w") as f:
        f.write('[keys]\nabusix = "%s"\nspamhaus-dqs = "%s"\n' % (KEY, KEY))
    # unlisted runs at its default concurrency (64 lookups in flight);
    # pydnsbl at its own default (200).
    cmd = [BIN, "check", "--config", cfg, "--nameserver", NS_IP, "--lists", "all",
           "--json", "--from-file", ipfile] + list(extra)
    return measure(cmd, out)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
    flat_ns = [int(x) for x in (sys.argv[2].split(",") if len(sys.argv) > 2 else ["1000", "10000", "40000"])]
    lists = ipv4_lists()
    nmax = max([n] + flat_ns)
    exp = truth(nmax, lists)
    d = tempfile.mkdtemp(prefix="unlisted-bench-")
    # rbldnsd drops root for its own user, which must read the zone files.
    os.chmod(d, 0o755)
    try:
        args = write_zones(d, nmax, lists, exp)
        rbl = start_rbldnsd(d, args)
        try:
            report(d, n, flat_ns, lists, exp)
        finally:
            rbl.kill()
            rbl.wait()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def report(d, n, flat_ns, lists, exp):
    addrs = ips(n)
    ipfile = os.path.join(d, "ips.txt")
    with open(ipfile, "w") as f:
        f.write("\n".join(addrs) + "\n")
    lookups = n * len(lists)

    # rbldnsd's ceiling: dnsperf replaying the same names for 10 s.
    qfile = os.path.join(d, "queries.txt")
    with open(qfile, "w") as f:
        for a in addrs:
            rev = ".".join(reversed(a.split(".")))
            for l in lists:
                f.write("%s.%s A\n" % (rev, l["zone_q"]))
    perf = subprocess.run(["dnsperf", "-s", NS_IP, "-p", "53", "-d", qfile, "-l", "10", "-c", "4", "-q", "200"],
                          capture_output=True, text=True).stdout
    ceiling = next((float(x.split(":")[1].split()[0]) for x in perf.splitlines() if "Queries per second" in x), float("nan"))
    perf_lost = next((x.split(":", 1)[1].strip() for x in perf.splitlines() if "Queries lost" in x), "?")

    ours_out = os.path.join(d, "ours.jsonl")
    py_out = os.path.join(d, "pydnsbl.jsonl")
    here = os.path.dirname(os.path.abspath(__file__))
    zones_file = os.path.join(d, "zones.txt")
    with open(zones_file, "w") as f:
        f.write("\n".join(l["zone_q"] for l in lists) + "\n")
    py_cmd = [sys.executable, os.path.join(here, "pydnsbl_check.py"), NS_IP, zones_file, ipfile, str(CONCURRENCY)]
    # Alternate the two tools REPEAT times; report the median run of each.
    o_runs, p_runs, t_runs = [], [], []
    for _ in range(REPEAT):
        o_runs.append(run_ours(d, n, ipfile, ours_out))
        o_score = score(ours_answers(ours_out), n, lists, exp)
        t_runs.append(run_ours(d, n, ipfile, ours_out, ["--no-txt"]))
        t_score = score(ours_answers(ours_out), n, lists, exp)
        p_runs.append(measure(py_cmd, py_out))
        p_score = score(pydnsbl_answers(py_out), n, lists, exp)
    o_walls = sorted(r[0] for r in o_runs)
    p_walls = sorted(r[0] for r in p_runs)
    o_wall, o_rss, o_rc = sorted(o_runs)[len(o_runs) // 2]
    p_wall, p_rss, p_rc = sorted(p_runs)[len(p_runs) // 2]
    t_wall, t_rss, t_rc = sorted(t_runs)[len(t_runs) // 2]
    t_wrong, t_missing, _ = t_score
    o_wrong, o_missing, o_ex = o_score
    p_wrong, p_missing, p_ex = p_score


    flat = []
    for m in flat_ns:
        f_ips = os.path.join(d, "ips-%d.txt" % m)
        with open(f_ips, "w") as f:
            f.write("\n".join(ips(m)) + "\n")
        w, rss, _ = run_ours(d, m, f_ips, os.path.join(d, "flat.jsonl"))
        flat.append((m, m * len(lists) / w, rss))

    import importlib.metadata as md
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    listed = sum(1 for (i, _j), v in exp.items() if i < n and v[0] == "listed")
    errors = sum(1 for (i, _j), v in exp.items() if i < n and v[0] == "error")
    print("## DNSBL lookups: %d IPs x %d IPv4 lists (%d lookups)\n" % (n, len(lists), lookups))
    print("Machine: %s, %d cores, %s; rbldnsd on %s:53 serving %d zones; pydnsbl %s; date %s.\n"
          % (cpu, os.cpu_count(), platform.platform(), NS_IP, len(lists), md.version("pydnsbl"),
             time.strftime("%Y-%m-%d")))
    print("Truth: %d listings (5%%), %d Spamhaus `127.255.255.254` error answers, the rest NXDOMAIN.\n"
          % (listed, errors))
    print("| tool | wall s | lookups/s | peak RSS MiB | wrong answers | missing answers | exit |")
    print("|---|---|---|---|---|---|---|")
    print("| unlisted check | %.2f | %.0f | %.1f | %d | %d | %d |" % (o_wall, lookups / o_wall, o_rss, o_wrong, o_missing, o_rc))
    print("| unlisted check --no-txt | %.2f | %.0f | %.1f | %d | %d | %d |" % (t_wall, lookups / t_wall, t_rss, t_wrong, t_missing, t_rc))
    print("| pydnsbl bulk_check | %.2f | %.0f | %.1f | %d | %d | %d |" % (p_wall, lookups / p_wall, p_rss, p_wrong, p_missing, p_rc))
    print("| dnsperf (rbldnsd ceiling) | 10 | %.0f | | | lost %s | |" % (ceiling, perf_lost))
    print()
    print("Median of %d alternating runs; wall seconds of all runs: unlisted %s, pydnsbl %s.\n"
          % (REPEAT, ", ".join("%.2f" % w for w in o_walls), ", ".join("%.2f" % w for w in p_walls)))
    print("unlisted / pydnsbl rate: **%.1fx**; unlisted / rbldnsd ceiling: **%.0f%%**." %
          ((lookups / o_wall) / (lookups / p_wall), 100 * (lookups / o_wall) / ceiling))
    print("The first row is the default: it also runs the per-zone RFC 5782 self-test and fetches the TXT reason of every listing and error answer, which pydnsbl does not; `--no-txt` leaves out the TXT lookups (%.1fx pydnsbl).\n" % ((lookups / t_wall) / (lookups / p_wall)))
    for name, ex in (("unlisted", o_ex), ("pydnsbl", p_ex)):
        if ex:
            print("%s wrong, e.g.: %s\n" % (name, "; ".join(ex)))
    print("Memory against the number of IPs (unlisted check, same zones):\n")
    print("| IPs | lookups/s | peak RSS MiB |")
    print("|---|---|---|")
    for m, rate, rss in flat:
        print("| %d | %.0f | %.1f |" % (m, rate, rss))


if __name__ == "__main__":
    main()
