"""Runs `unlisted bounce explain --json` over a folder of bounce messages
and scores it against the folder's labels.tsv (file, category, list id,
provider, listed IP; `-` for none): a confusion table of categories, the
list/provider/IP accuracy, and messages per second.

usage: python3 bench/bounces/eval.py FOLDER [UNLISTED_BINARY]
"""

import collections
import json
import os
import subprocess
import sys
import time

CATEGORIES = ["blocklisted", "reputation", "spam_content", "authentication", "recipient_unknown",
              "mailbox_full", "rate_limited", "policy", "network", "other"]


def main():
    folder = sys.argv[1]
    binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/unlisted"
    labels = {}
    with open(os.path.join(folder, "labels.tsv")) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, cat, lst, prov, ip = line.rstrip("\n").split("\t")
            labels[name] = (cat, None if lst == "-" else lst, None if prov == "-" else prov, None if ip == "-" else ip)
    files = [os.path.join(folder, n) for n in sorted(labels)]
    # Many copies for a stable rate: the same files, repeated.
    reps = max(1, 2000 // max(len(files), 1))
    t = time.time()
    out = subprocess.run([binary, "bounce", "explain", "--json"] + files * reps,
                         capture_output=True, text=True)
    secs = time.time() - t
    got = {}
    for line in out.stdout.splitlines():
        o = json.loads(line)
        name = os.path.basename(o["file"])
        got.setdefault(name, o)
    confusion = collections.Counter()
    wrong = []
    fields_ok = collections.Counter()
    fields_n = collections.Counter()
    for name, (cat, lst, prov, ip) in labels.items():
        o = got.get(name)
        predicted = o["category"] if o else "(no answer)"
        confusion[(cat, predicted)] += 1
        if predicted != cat:
            wrong.append(f"{name}: expected {cat}, got {predicted}")
        if o is None:
            continue
        checks = {
            "list": (lst, (o.get("list") or {}).get("id")),
            "provider": (prov, o.get("provider")),
            "listed_ip": (ip, o.get("listed_ip")),
        }
        for k, (want, have) in checks.items():
            fields_n[k] += 1
            if want == have:
                fields_ok[k] += 1
            else:
                wrong.append(f"{name}: {k} expected {want}, got {have}")
    n = len(labels)
    right = sum(v for (a, b), v in confusion.items() if a == b)
    print(f"## Bounce classification: {folder}")
    print()
    print(f"{n} messages; category right for {right} ({100 * right / max(n, 1):.1f}%); "
          + ", ".join(f"{k} right for {fields_ok[k]}/{fields_n[k]}" for k in ("list", "provider", "listed_ip")) + ".")
    print(f"Speed: {len(files) * reps} messages in {secs:.2f} s = {len(files) * reps / secs:.0f} messages/s "
          f"(one process, {reps} passes over the folder, start-up included).")
    print()
    cols = [c for c in CATEGORIES if any(k[1] == c for k in confusion) or any(k[0] == c for k in confusion)]
    extra = sorted({b for (_, b) in confusion if b not in CATEGORIES})
    cols += extra
    print("| expected \\ got | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for a in [c for c in CATEGORIES if any(k[0] == c for k in confusion)]:
        print(f"| {a} | " + " | ".join(str(confusion.get((a, b), "")) for b in cols) + " |")
    if wrong:
        print()
        print("Misses:")
        for w in wrong:
            print(f"- {w}")


if __name__ == "__main__":
    main()
