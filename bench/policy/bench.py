"""Runs the policy benchmark (see run.sh) and prints the report.

The ceiling is a do-nothing server (`policyload --serve-dunno`) on the
same sockets. Both services get the same rules: one held mailbox answered REJECT, and a
per-SASL-user rate limit (10,000,000 messages an hour: counted on every
request, never reached, so every answer is comparable). The load: 1,000
SASL users, every 100th request from the held one, END-OF-MESSAGE requests
with the attributes Postfix 3.7 sends. Runs alternate between the tools;
the median of the runs is shown.
"""

import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CONNECTIONS = [1, 50, 500]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNLISTED = os.path.join(ROOT, "target/release/unlisted")
LOAD = os.path.join(ROOT, "target/release/policyload")

POSTFWD_RULES = """\
id=HELD; sasl_username==held@bench.example; action=REJECT 5.7.1 Sending as auth:held@bench.example is suspended: bench
id=RATE; sasl_username=~.; action=rate(sasl_username/10000000/3600/450 4.7.1 over limit)
"""
UNLISTED_CONFIG = """\
[enforce.limits.auth]
messages_per_hour = 10000000
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, limit=10.0):
    end = time.time() + limit
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


def load(port, conns):
    out = subprocess.run(
        [LOAD, "--addr", f"127.0.0.1:{port}", "--connections", str(conns), "--seconds", str(SECONDS)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def main():
    work = tempfile.mkdtemp(prefix="unlisted-policybench.")
    db = os.path.join(work, "u.db")
    cfg = os.path.join(work, "u.toml")
    with open(cfg, "w") as f:
        f.write(UNLISTED_CONFIG)
    rules = os.path.join(work, "rules.cf")
    with open(rules, "w") as f:
        f.write(POSTFWD_RULES)
    subprocess.run([UNLISTED, "--db", db, "hold", "add", "auth:held@bench.example",
                    "--reason", "bench", "--action", "reject"], check=True, capture_output=True)

    up = free_port()
    ours = subprocess.Popen([UNLISTED, "--db", db, "--config", cfg, "policy", "--listen", f"127.0.0.1:{up}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pp = free_port()
    pid = os.path.join(work, "postfwd.pid")
    subprocess.run(["/usr/sbin/postfwd1", "-f", rules, "-i", "127.0.0.1", "-p", str(pp),
                    "-u", "nobody", "-g", "nogroup", "--nodns", "-P", "--pidfile", pid, "--daemon"],
                   check=True)
    cp = free_port()
    ceiling = subprocess.Popen([LOAD, "--serve-dunno", f"127.0.0.1:{cp}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tools = (("unlisted", up), ("postfwd", pp), ("ceiling", cp))
    try:
        wait_port(up)
        wait_port(pp)
        wait_port(cp)
        results = {}
        for conns in CONNECTIONS:
            for run in range(RUNS):
                for name, port in tools:
                    results.setdefault((name, conns), []).append(load(port, conns))
    finally:
        ours.send_signal(signal.SIGTERM)
        ours.wait()
        ceiling.kill()
        ceiling.wait()
        try:
            with open(pid) as f:
                os.kill(int(f.read().strip()), signal.SIGTERM)
        except OSError:
            pass

    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "postfwd"], capture_output=True, text=True).stdout
    print("## Policy service: unlisted vs postfwd")
    print()
    print(f"Machine: {cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
          f"{time.strftime('%Y-%m-%d', time.gmtime())}. postfwd1 {ver}. "
          f"{RUNS} runs of {SECONDS:g} s per tool and concurrency, alternating; median run shown.")
    print()
    print("| connections | tool | requests/s | p50 ms | p99 ms | max ms | REJECT answers | errors |")
    print("|---|---|---|---|---|---|---|---|")
    names = ("unlisted", "postfwd", "ceiling")
    for conns in CONNECTIONS:
        for name in names:
            runs = sorted(results[(name, conns)], key=lambda r: r["rps"])
            r = runs[len(runs) // 2]
            rej = r["actions"].get("REJECT", 0)
            share = 100.0 * rej / max(r["requests"], 1)
            print(f"| {conns} | {name} | {r['rps']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | "
                  f"{r['max_ms']:.1f} | {share:.2f}% | {r['errors']} |")
        u = statistics.median(x["rps"] for x in results[("unlisted", conns)])
        p = statistics.median(x["rps"] for x in results[("postfwd", conns)])
        c = statistics.median(x["rps"] for x in results[("ceiling", conns)])
        print(f"|  | unlisted / postfwd | **{u / max(p, 1):.1f}x** | | | | | |")
        print(f"|  | unlisted / ceiling | {100 * u / max(c, 1):.0f}% | | | | | |")
    print()
    print("All runs (requests/s): " + "; ".join(
        f"{name}@{c}: " + ", ".join(f"{x['rps']:.0f}" for x in results[(name, c)])
        for c in CONNECTIONS for name in names))
    print()
    print("`ceiling` is `policyload --serve-dunno`: the same sockets and runtime answering DUNNO "
          "without reading the request, i.e. what loopback TCP and the load generator allow here.")


if __name__ == "__main__":
    main()
