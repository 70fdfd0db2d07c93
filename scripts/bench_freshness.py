#!/usr/bin/env python3
"""Freshness of `glas run`: from a post's fetch to searchable, and to its alert.

A labelled month of a district (`glas scenario`, seed 1) is split at the
start of a day with an injected incident: the week before it is imported
(the detector's history), and the day is replayed live. A feed on loopback
(a `jsonl` source over HTTP) shows each post once the replay clock passes its
publication time; `glas run` crawls it every 5 (clock) minutes with its clock
started at the same moment and running --speed times faster than real time,
analyses after each round and sends its alerts to an SMTP server on
loopback (aiosmtpd). The figures are the service's own: its /metrics
histograms `glas_fetch_to_searchable_seconds` (per new mention: from the
end of its source's fetch to the commit that makes it searchable) and
`glas_fetch_to_alert_seconds` (per alert email: from the end of the first
fetch of the round that brought the news to the email accepted by the SMTP
server), and `glas_round_duration_seconds`, sampled every second.

  python3 scripts/bench_freshness.py --glas target/release/glas [--hours 14] [--speed 60]

Quantiles of the histograms are the upper bounds of the buckets that hold
them (Prometheus's buckets, seconds). Wall-clock seconds throughout: the
speed-up shortens the waits between rounds, not the rounds.
"""

import argparse
import datetime as dt
import email
import email.header
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


class Feed:
    """The day's posts, shown as the replay clock reaches them."""

    def __init__(self, lines, start, speed):
        self.posts = sorted(((parse_time(json.loads(l)["published_at"]), l) for l in lines), key=lambda p: p[0])
        self.start, self.speed, self.t0 = start, speed, time.time()

    def now(self):
        return self.start + dt.timedelta(seconds=(time.time() - self.t0) * self.speed)

    def body(self):
        now = self.now()
        return "".join(l if l.endswith("\n") else l + "\n" for at, l in self.posts if at <= now).encode()


def serve(feed):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = feed.body()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def histogram(text, name):
    buckets = [(float(le), float(n)) for le, n in re.findall(name + r'_bucket\{le="([0-9.]+)"\} ([0-9.]+)', text)]
    count = float(re.search(name + r"_count ([0-9.]+)", text).group(1))
    total = float(re.search(name + r"_sum ([0-9.]+)", text).group(1))
    q = lambda p: next((le for le, n in buckets if count and n >= p * count), None)
    return {"count": int(count), "mean": total / count if count else None, "p50": q(0.5), "p99": q(0.99)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glas", default="target/release/glas")
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/glas-bench-freshness"))
    ap.add_argument("--day", default="2026-09-22", help="the replayed day (scenario 1 has a waste incident from 09:11)")
    ap.add_argument("--hours", type=float, default=14)
    ap.add_argument("--speed", type=float, default=60)
    args = ap.parse_args()
    glas = os.path.abspath(args.glas)
    work = args.work
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    scn = os.path.join(work, "scenario")
    subprocess.run([glas, "scenario", "--out", scn, "--seed", "1"], check=True, stdout=subprocess.DEVNULL)
    start = dt.datetime.fromisoformat(args.day + "T00:00:00+03:00")
    end = start + dt.timedelta(hours=args.hours)
    with open(os.path.join(scn, "mentions.jsonl")) as f:
        lines = [l for l in f if l.strip()]
    before = [l for l in lines if parse_time(json.loads(l)["published_at"]) < start]
    day = [l for l in lines if start <= parse_time(json.loads(l)["published_at"]) < end]
    history = os.path.join(work, "history.jsonl")
    with open(history, "w") as f:
        f.writelines(before)

    # The SMTP server the alerts go to.
    outbox = os.path.join(work, "smtp")
    sink = subprocess.Popen(
        [sys.executable, os.path.join(REPO, "tests/support/smtp_sink.py"), outbox],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    smtp_port = int(sink.stdout.readline())

    # The demo pipeline with the feed as its only source and alerts to the sink.
    with open(os.path.join(REPO, "pipelines/demo.toml")) as f:
        text = f.read()
    head, rest = text.split("[[sources]]", 1)
    tail = rest[rest.index("[signals]"):]
    tail = tail.replace(
        '[alerts]\nfrom = "glas@levokumsky.example"\n',
        f'[alerts]\nsmtp_url = "smtp://127.0.0.1:{smtp_port}"\nfrom = "glas@levokumsky.example"\n',
    )
    assert f"127.0.0.1:{smtp_port}" in tail, "the demo pipeline's [alerts] changed shape"
    data = os.path.join(work, "data")
    head = re.sub(r'data_dir = "[^"]*"', f'data_dir = "{data}"', head)
    feed = Feed(day, start, args.speed)
    httpd = serve(feed)
    source = (
        f'[[sources]]\nid = "feed"\nname = "Лента сценария"\ntype = "jsonl"\n'
        f'url = "http://127.0.0.1:{httpd.server_address[1]}/feed.jsonl"\ninterval = "5m"\nallow_private = true\n\n'
    )
    pipe = os.path.join(work, "pipeline.toml")
    with open(pipe, "w") as f:
        f.write(head + source + tail)
    t = time.time()
    subprocess.run([glas, "--pipeline", pipe, "import", history], check=True, stdout=subprocess.DEVNULL)
    print(f"history: {len(before):,} mentions imported in {time.time() - t:.1f} s; replaying {len(day):,} posts "
          f"of {args.day} 00:00–{end:%H:%M} at {args.speed:g}× ({args.hours * 3600 / args.speed:.0f} s)", flush=True)

    feed.t0 = time.time()
    run = subprocess.Popen(
        [glas, "--pipeline", pipe, "run", "--listen", "127.0.0.1:0",
         "--clock-start", start.isoformat(), "--clock-speed", str(args.speed)],
        stdout=subprocess.PIPE,
        stderr=open(os.path.join(work, "run.log"), "w"),
        text=True,
    )
    addr = run.stdout.readline().strip().removeprefix("listening on ")
    rounds = []
    text = ""
    while feed.now() < end:
        time.sleep(1)
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
            text = r.read().decode()
        m = re.search(r"glas_round_duration_seconds ([0-9.]+)", text)
        n = re.search(r"glas_rounds_total ([0-9]+)", text)
        if m and n and (not rounds or rounds[-1][0] != int(n.group(1))):
            rounds.append((int(n.group(1)), float(m.group(1))))
    # A last round for the posts of the final minutes.
    time.sleep(6 * 60 / args.speed)
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
        text = r.read().decode()
    run.terminate()
    run.wait(timeout=60)
    sink.stdin.close()
    sink.wait(timeout=10)
    httpd.shutdown()

    searchable = histogram(text, "glas_fetch_to_searchable_seconds")
    alert = histogram(text, "glas_fetch_to_alert_seconds")
    durations = sorted(d for _, d in rounds[1:])  # the first round reads the imported week too
    pct = lambda p: durations[min(len(durations) - 1, int(len(durations) * p))] if durations else None
    mails = sorted(f for f in os.listdir(outbox) if f.endswith(".eml")) if os.path.isdir(outbox) else []
    subjects = []
    for f in mails:
        with open(os.path.join(outbox, f), "rb") as fh:
            msg = email.message_from_bytes(fh.read())
        subjects.append(str(email.header.make_header(email.header.decode_header(msg.get("Subject", "")))))
    out = {
        "day": args.day, "hours": args.hours, "speed": args.speed, "posts": len(day),
        "searchable": searchable, "alert": alert,
        "rounds": len(rounds), "round_seconds": {"p50": pct(0.5), "p99": pct(0.99), "max": durations[-1] if durations else None},
        "emails": len(mails), "subjects": subjects,
    }
    print(json.dumps(out, ensure_ascii=False, indent=2))
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=2)


if __name__ == "__main__":
    sys.exit(main())
