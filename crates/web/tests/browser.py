#!/usr/bin/env python3
"""Drives the dashboard in a real headless Chromium over the DevTools
protocol: logs in with a token, sees the listed server, opens the incident,
sender and complaint pages, releases a hold with a click, and writes a
screenshot of each page into OUTDIR.

usage: browser.py CHROMIUM BASE_URL TOKEN SENDER OUTDIR

Only loopback is touched: the dashboard at BASE_URL and Chromium's own
DevTools port. Exits 1 with what was expected and what the page showed.
"""

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import websocket

chromium, base, token, sender, outdir = sys.argv[1:6]
os.makedirs(outdir, exist_ok=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


port = free_port()
profile = tempfile.mkdtemp(prefix="unlisted-chromium-")
proc = subprocess.Popen(
    [
        chromium,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--metrics-recording-only",
        "--window-size=1280,900",
        f"--remote-debugging-port={port}",
        "--remote-debugging-address=127.0.0.1",
        f"--user-data-dir={profile}",
        "about:blank",
    ],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)


def fail(msg):
    print(msg)
    sys.exit(1)


try:
    ws_url = None
    # A first start on a fresh clone, with the test suite busy on both
    # cores, has taken over 20 s: wait up to a minute.
    deadline = time.time() + 60
    while ws_url is None and time.time() < deadline:
        try:
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2))
            ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
            break
        except Exception:
            if proc.poll() is not None:
                fail(f"Chromium exited ({proc.returncode}) before its DevTools port answered")
            time.sleep(0.2)
    if ws_url is None:
        fail("Chromium's DevTools port did not answer")
    ws = websocket.create_connection(ws_url, timeout=30)
    next_id = [0]

    def send(method, params=None, wait_event=None):
        next_id[0] += 1
        mid = next_id[0]
        ws.send(json.dumps({"id": mid, "method": method, "params": params or {}}))
        result, seen = None, wait_event is None
        deadline = time.time() + 30
        while time.time() < deadline and (result is None or not seen):
            msg = json.loads(ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    fail(f"{method}: {msg['error']}")
                result = msg.get("result", {})
            elif wait_event and msg.get("method") == wait_event:
                seen = True
        if result is None or not seen:
            fail(f"{method}: no answer")
        return result

    def evaluate(js, wait_load=False):
        r = send(
            "Runtime.evaluate",
            {"expression": js, "returnByValue": True},
            wait_event="Page.loadEventFired" if wait_load else None,
        )
        return r.get("result", {}).get("value")

    def go(path):
        send("Page.navigate", {"url": base + path}, wait_event="Page.loadEventFired")

    def text():
        return evaluate("document.body.innerText") or ""

    def shot(name):
        data = send("Page.captureScreenshot", {"format": "png"})["data"]
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(base64.b64decode(data))

    def expect(what, *needles):
        t = text()
        for n in needles:
            if n not in t:
                fail(f"{what}: expected {n!r} on the page, which shows:\n{t[:2000]}")

    send("Page.enable")
    send("Runtime.enable")
    go("/")
    expect("the login page", "Paste a token")
    shot("login.png")
    evaluate(
        f"document.querySelector('input[name=token]').value = {json.dumps(token)};"
        "document.querySelector('form').submit();",
        wait_load=True,
    )
    expect("the overview", "mx1", "LISTED", "spamcop", "Active incidents")
    shot("overview.png")
    go("/incidents/1")
    expect("the incident page", "Timeline", "Next:", sender)
    shot("incident.png")
    go("/sender?s=" + urllib.parse.quote(sender))
    expect("the sender page", "Messages per hour", "Verdicts and their reasons")
    shot("sender.png")
    go("/complaints")
    expect("the complaints page", "Feedback-loop complaints", "Remote refusals")
    shot("complaints.png")
    go("/holds")
    expect("the holds page", sender, "Release")
    shot("holds.png")
    evaluate("document.querySelector('button.release').click();", wait_load=True)
    expect("after releasing", "released", "No holds.")
    shot("holds-released.png")
    print("dashboard driven in Chromium; screenshots in " + outdir)
finally:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(profile, ignore_errors=True)
