#!/usr/bin/env python3
"""A region's pipeline over NATS JetStream against `glas crawl --once`.

One district whose sources are jsonl files cut from a generated corpus is
ingested (fetch, enrich, commit to log and index) three ways:

  run   `glas crawl --once` (the round `glas run` does);
  1x    a nats-server, one store writer, 1 crawl and 1 enrich worker;
  2x    the same with 2 crawl and 2 enrich workers.

For each: seconds until every mention is stored (the store writer's
/metrics), mentions per second, and from the store writer's histogram the
seconds from fetch to searchable (p50, p99 by bucket upper bound). Then a
trickle: a second district's source of a few hundred mentions crawled on
an idle region, for the per-mention cost JetStream adds.

  python3 scripts/bench_region.py --glas target/release/glas --count 100000

With --search: the regional search over 10 districts of 100,000 mentions
each (the first million of scripts/bench_search.py's corpus, one district
per tenth, each imported by `glas import`), the same 200 queries as that
benchmark, facets on, through the stores opened once
(`examples/regional_search.rs`, built in release).

  python3 scripts/bench_region.py --search

With --cluster: the 1x region again on a cluster of three nats-servers on
this machine (the streams with three replicas, as deploy/region/ runs
them), and once more with the workers connected through server 3 alone
(they learn the others from it) and server 3 stopped halfway through: the
worst case, every worker's connection lost at once. --ack-wait sets the
workers' acknowledgement wait (their default: 60 s).

  python3 scripts/bench_region.py --cluster
"""

import argparse
import json
import os
import re
import shutil
import socket
import signal
import subprocess
import sys
import time
import urllib.request


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def pipeline(path, name, files, interval="6h"):
    src = "".join(
        f'\n[[sources]]\nid = "part-{i}"\ntype = "jsonl"\nurl = "{f}"\ninterval = "{interval}"\n' for i, f in enumerate(files)
    )
    with open(path, "w") as out:
        out.write(f'[district]\nname = "Округ {name}"\n[storage]\ndata_dir = "data-{name}"\n{src}')


def metrics(addr):
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as r:
        return r.read().decode()


def stored(text):
    m = re.search(r'glas_region_stored_total\{outcome="new"\} (\d+)', text)
    return int(m.group(1)) if m else 0


def quantiles(text):
    buckets = [(float(le), int(n)) for le, n in re.findall(r'fetch_to_searchable_seconds_bucket\{le="([0-9.]+)"\} (\d+)', text)]
    count = int(re.search(r"fetch_to_searchable_seconds_count (\d+)", text).group(1))
    out = {}
    for q in (0.5, 0.99):
        out[f"p{int(q * 100)}"] = next((le for le, n in buckets if n >= q * count), None)
    out["mean"] = float(re.search(r"fetch_to_searchable_seconds_sum ([0-9.]+)", text).group(1)) / max(count, 1)
    return out


def free_port():
    # A benchmark's cluster needs its route ports before the servers start.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nats:
    """One nats-server, or a cluster of three on this machine (`nodes=3`)."""

    def __init__(self, work, nodes=1):
        self.dir = os.path.join(work, "nats")
        shutil.rmtree(self.dir, ignore_errors=True)
        exe = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.procs = []
        if nodes == 1:
            os.makedirs(os.path.join(self.dir, "ports"))
            self.procs.append(subprocess.Popen(
                [exe, "-js", "-a", "127.0.0.1", "-p", "-1", "-sd", os.path.join(self.dir, "js"), "--ports_file_dir", os.path.join(self.dir, "ports")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ))
            for _ in range(200):
                files = os.listdir(os.path.join(self.dir, "ports"))
                if files:
                    with open(os.path.join(self.dir, "ports", files[0])) as f:
                        text = f.read()
                    if "nats" in text:
                        self.url = json.loads(text)["nats"][0]
                        return
                time.sleep(0.05)
            raise SystemExit("nats-server did not start")
        clients = [free_port() for _ in range(nodes)]
        routes = [free_port() for _ in range(nodes)]
        for i in range(nodes):
            conf = os.path.join(self.dir, f"n{i}.conf")
            os.makedirs(os.path.join(self.dir, f"js{i}"), exist_ok=True)
            peers = ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes)
            with open(conf, "w") as f:
                f.write(
                    f"server_name: n{i}\nlisten: 127.0.0.1:{clients[i]}\n"
                    f"jetstream {{ store_dir: {os.path.join(self.dir, f'js{i}')} }}\n"
                    f"cluster {{ name: bench, listen: 127.0.0.1:{routes[i]}, routes: [{peers}] }}\n"
                )
            log = open(os.path.join(self.dir, f"n{i}.log"), "w")
            self.procs.append(subprocess.Popen([exe, "-c", conf], stdout=log, stderr=log))
        self.urls = [f"nats://127.0.0.1:{p}" for p in clients]
        self.url = ",".join(self.urls)
        # JetStream needs a meta leader before streams can be made.
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(os.path.join(self.dir, "n0.log")) as f:
                text = f.read()
            if "JetStream cluster new metadata leader" in text or "Self is new JetStream cluster metadata leader" in text:
                return
            time.sleep(0.2)
        raise SystemExit("the nats cluster elected no leader")

    @property
    def proc(self):
        return self.procs[0]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            p.wait()


def cpu_seconds(pid):
    """User + system CPU seconds a live process has used."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def region(glas, work, pipe, n, workers, log, nodes=1, stop_one=False, ack_wait=None):
    nats = Nats(work, nodes)
    # Stopping a server: every worker is connected through it.
    url = nats.urls[2] if stop_one else nats.url
    common = ["--nats", url, "--pipeline", pipe]
    if nodes > 1:
        common += ["--replicas", str(nodes)]
    if ack_wait:
        common += ["--ack-wait", str(ack_wait)]
    procs = []
    names = []

    def spawn(name, args):
        names.append(name)
        f = open(os.path.join(work, f"{name}.log"), "w")
        p = subprocess.Popen([glas, "worker", *args, *common], stdout=subprocess.PIPE, stderr=f, text=True)
        procs.append(p)
        return p

    started = time.time()
    store = spawn("store", ["store", "--listen", "127.0.0.1:0", "--analyse-every", "3600"])
    addr = store.stdout.readline().strip().removeprefix("listening on ")
    for i in range(workers):
        spawn(f"crawl-{i}", ["crawl"])
        spawn(f"enrich-{i}", ["enrich"])
    stopped = None
    while True:
        text = metrics(addr)
        got = stored(text)
        if got >= n:
            break
        if stop_one and stopped is None and got >= n // 2:
            # The third server goes away halfway; the two left keep quorum.
            nats.procs[2].terminate()
            stopped = time.time() - started
            log(f"    nats server 3 of 3 stopped at {stopped:.1f} s, {got:,} stored")
        time.sleep(0.2)
    elapsed = time.time() - started
    q = quantiles(text)
    cpu = {name: round(cpu_seconds(p.pid), 1) for name, p in zip(names, procs)}
    for i, p in enumerate(nats.procs):
        if p.poll() is None:
            cpu[f"nats-server-{i + 1}"] = round(cpu_seconds(p.pid), 1)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
    nats.stop()
    where = f" on {nodes} nats-servers, {nodes} replicas" + (", the workers' server stopped halfway" if stop_one else "") if nodes > 1 else ""
    log(f"  {workers} crawl + {workers} enrich + 1 store{where}: {elapsed:.1f} s, {n / elapsed:,.0f} mentions/s; fetch→searchable p50 ≤ {q['p50']} s, p99 ≤ {q['p99']} s, mean {q['mean']:.2f} s")
    log(f"    CPU seconds: {cpu}")
    return {"workers": workers, "seconds": elapsed, "per_second": n / elapsed, "cpu": cpu, **q}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glas", default="target/release/glas")
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--sources", type=int, default=10)
    ap.add_argument("--trickle", type=int, default=300)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/glas-bench-region"))
    ap.add_argument("--search", action="store_true", help="the regional search benchmark instead")
    ap.add_argument("--districts", type=int, default=10)
    ap.add_argument("--cluster", action="store_true", help="only the 1x region, on a cluster of three nats-servers")
    ap.add_argument("--no-facets", action="store_true", help="--search without facets")
    ap.add_argument("--ack-wait", type=int, help="the workers' --ack-wait in seconds (--cluster)")
    args = ap.parse_args()
    glas = os.path.abspath(args.glas)
    if args.search:
        return search_bench(glas, args)
    os.makedirs(args.work, exist_ok=True)
    work = args.work
    corpus = os.path.join(work, f"corpus-{args.count}.jsonl")
    if not os.path.exists(corpus):
        sh([glas, "gen-corpus", "--out", corpus, "--count", str(args.count)])
    with open(corpus) as f:
        lines = f.readlines()
    files = []
    for i in range(args.sources):
        path = os.path.join(work, f"part-{i}.jsonl")
        with open(path, "w") as out:
            out.writelines(lines[i :: args.sources])
        files.append(path)
    n = len(lines)
    results = {"count": n, "sources": args.sources}

    def log(s):
        print(s, flush=True)

    log(f"{n:,} mentions in {args.sources} jsonl sources")
    modes = ["cluster", "cluster-stop"] if args.cluster else ["run", 1, 2]
    for mode in modes:
        name = f"bench{mode}"
        for d in [f"data-{name}"]:
            shutil.rmtree(os.path.join(work, d), ignore_errors=True)
        pipe = os.path.join(work, f"{name}.toml")
        pipeline(pipe, name, files)
        if mode == "run":
            t = time.time()
            before = os.times()
            sh([glas, "crawl", "--once", "--pipeline", pipe], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            el = time.time() - t
            after = os.times()
            cpu = round(after.children_user + after.children_system - before.children_user - before.children_system, 1)
            log(f"  glas crawl --once: {el:.1f} s, {n / el:,.0f} mentions/s; CPU seconds {cpu}")
            results["run"] = {"seconds": el, "per_second": n / el, "cpu": cpu}
        elif mode == "cluster":
            results["cluster"] = region(glas, work, pipe, n, 1, log, nodes=3, ack_wait=args.ack_wait)
        elif mode == "cluster-stop":
            results["cluster_stop"] = region(glas, work, pipe, n, 1, log, nodes=3, stop_one=True, ack_wait=args.ack_wait)
        else:
            results[f"region_{mode}"] = region(glas, work, pipe, n, mode, log)
    if args.cluster:
        with open(os.path.join(work, "results-cluster.json"), "w") as f:
            json.dump(results, f, indent=2)
        return
    # The trickle: a few hundred mentions on an idle region.
    small = os.path.join(work, "trickle.jsonl")
    with open(small, "w") as out:
        out.writelines(lines[: args.trickle])
    pipe = os.path.join(work, "trickle.toml")
    shutil.rmtree(os.path.join(work, "data-trickle"), ignore_errors=True)
    pipeline(pipe, "trickle", [small])
    results["trickle"] = region(glas, work, pipe, args.trickle, 1, log)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(results, f, indent=2)


def search_bench(glas, args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_search

    work = os.path.join(args.work, "search")
    os.makedirs(work, exist_ok=True)
    per = args.count
    total = per * args.districts
    corpus = os.path.join(work, f"corpus-{total}.jsonl")
    if not os.path.exists(corpus):
        sh([glas, "gen-corpus", "--out", corpus, "--count", str(total)])
    dirs = []
    with open(corpus) as f:
        lines = f.readlines()
    for d in range(args.districts):
        data = os.path.join(work, f"district-{d}")
        dirs.append(data)
        if os.path.exists(os.path.join(data, "index")):
            continue
        part = os.path.join(work, f"district-{d}.jsonl")
        with open(part, "w") as out:
            out.writelines(lines[d::args.districts])
        t = time.time()
        sh([glas, "import", part, "--data", data], stdout=subprocess.DEVNULL)
        print(f"district {d}: {per:,} mentions imported in {time.time() - t:.1f} s", flush=True)
    qfile = os.path.join(work, "queries.tsv")
    with open(qfile, "w") as out:
        for _cat, q, sort, _where, _tsq in bench_search.queries():
            out.write(f"{sort}\t{q}\n")
    example = os.path.join(os.path.dirname(glas), "examples", "regional_search")
    flags = ["--no-facets"] if args.no_facets else []
    sh([example, *flags, qfile, *dirs], stdout=open(os.path.join(work, "timings.tsv"), "w"))


if __name__ == "__main__":
    sys.exit(main())
