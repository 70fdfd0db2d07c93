#!/usr/bin/env python3
"""glas search vs PostgreSQL full-text search, side by side on one corpus.

    scripts/bench-search            # the one command (installs what is missing, then runs this)
    python3 scripts/bench_search.py --glas target/release/glas --count 1000000 --work DIR

Steps (each system gets the same mentions and the same 200 queries):
  1. `glas gen-corpus` writes COUNT realistic Russian mentions (JSON Lines).
  2. glas: `glas import` (enrich + Parquet log + tantivy index) and `glas reindex`
     (the index alone, rebuilt from the log) are timed; the index folder is measured.
  3. The enriched mentions are exported (`glas search '' --export`) and loaded
     into PostgreSQL, started on 127.0.0.1 in a throwaway cluster: COPY into a
     table with a stored `tsvector` (russian configuration, title weighted A,
     text B), then a GIN index on it and B-tree/GIN indexes on the filter
     columns. COPY and index builds are timed; table and index sizes measured.
  4. `glas serve` answers the queries over HTTP (JSON with snippets, reprints
     collapsed, total count); PostgreSQL answers them with `ts_rank` (or date)
     ordering, LIMIT 20 and `ts_headline` snippets for the 20 rows. Both are
     timed from this client, one query at a time, after one warm-up pass.
Results go to WORK/results.json and are printed as Markdown.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

WORDS_MUNICIPAL = ["вода", "газ", "дорога", "мусор", "свет", "отопление", "автобус", "школа", "администрация",
                   "ремонт", "авария", "яма", "фонари", "снег", "собаки", "подвал", "труба", "врач", "хлеб",
                   "батареи", "контейнеры", "амбулатория", "жители", "улица", "проблема"]
WORDS_SOCIAL = ["сегодня", "люди", "спасибо", "хочу", "день", "время", "жизнь", "любовь", "друзья", "погода",
                "работа", "утро", "праздник", "фильм", "музыка"]
WORDS_NEWS = ["президент", "правительство", "россия", "компания", "суд", "выборы", "министр", "рубль",
              "пандемия", "экономика", "полиция", "доллар", "закон", "губернатор", "банк"]
WORDS_RARE = ["крайстчерч", "тамблер", "лесополоса", "водовод", "амбулатории", "подорожал"]
PLACES = ["Величаевское", "Правокумское", "Левокумское", "Владимировка", "Урожайное", "Николо-Александровское",
          "Турксад", "Бургун-Маджары", "Приозёрское", "Заря"]
PHRASES = ["нет воды", "прорвало трубу", "не горят фонари", "яма на дороге", "не вывозят мусор", "отключили газ",
           "нет отопления", "холодные батареи", "отключили свет", "не ходит автобус", "затопило подвал",
           "бродячие собаки", "не чистят снег", "разбита дорога", "ржавая вода", "пресс-служба", "белого дома",
           "правительство россии", "на улице", "в селе", "к вечеру", "принять меры", "никто не отвечает",
           "наконец решили", "районная администрация"]
TOPICS = ["water", "roads", "waste", "electricity", "gas", "heating", "transport", "healthcare", "education"]
SENTIMENTS = ["negative", "neutral", "positive"]
TYPES = ["complaint", "question", "gratitude", "news"]


def week(rng):
    """Seven days within the corpus span (60 days to 2026-11-25)."""
    d0 = datetime.date(2026, 9, 27) + datetime.timedelta(days=rng.randrange(0, 53))
    return d0.isoformat(), (d0 + datetime.timedelta(days=6)).isoformat()


def pg_text(q):
    return q.replace("'", "''")


def queries():
    """200 queries, each as (category, glas query, sort, PG WHERE, PG tsquery expr or None)."""
    rng = random.Random(20261129)
    out = []
    vocab = WORDS_MUNICIPAL + WORDS_SOCIAL + WORDS_NEWS + WORDS_RARE + PLACES
    for i in range(50):
        w = rng.choice(vocab)
        tsq = f"plainto_tsquery('russian', '{pg_text(w)}')"
        out.append(("term", w, "date" if i % 5 >= 3 else "relevance", None, tsq))
    for i in range(50):
        a, b = rng.sample(WORDS_MUNICIPAL + WORDS_NEWS + PLACES, 2)
        if i < 20:
            out.append(("boolean", f"{a} {b}", "relevance", None, f"plainto_tsquery('russian', '{pg_text(a)} {pg_text(b)}')"))
        elif i < 35:
            out.append(("boolean", f"{a} OR {b}", "relevance", None,
                        f"(plainto_tsquery('russian', '{pg_text(a)}') || plainto_tsquery('russian', '{pg_text(b)}'))"))
        else:
            out.append(("boolean", f"{a} -{b}", "relevance", None,
                        f"(plainto_tsquery('russian', '{pg_text(a)}') && !! plainto_tsquery('russian', '{pg_text(b)}'))"))
    for i in range(40):
        p = rng.choice(PHRASES)
        out.append(("phrase", f'"{p}"', "date" if i % 4 == 3 else "relevance", None,
                    f"phraseto_tsquery('russian', '{pg_text(p)}')"))
    for i in range(40):
        d0, d1 = week(rng)
        w = rng.choice(WORDS_MUNICIPAL)
        date_sql = f"published_at >= '{d0} 00:00:00+03' AND published_at < ('{d1} 00:00:00+03'::timestamptz + interval '1 day')"
        kind = i % 4
        if kind == 0:
            s = rng.choice(SENTIMENTS)
            g = f"{w} sentiment:{s} date:[{d0} TO {d1}]"
            where = f"sentiment = '{s}' AND {date_sql}"
        elif kind == 1:
            t = rng.choice(TOPICS)
            pl = rng.choice(PLACES)
            g = f"topic:{t} place:{pl} {w} date:[{d0} TO {d1}]"
            where = f"'{t}' = ANY(topics) AND '{pl}' = ANY(places) AND {date_sql}"
        elif kind == 2:
            ty = rng.choice(TYPES)
            g = f"{w} type:{ty} date:[{d0} TO {d1}]"
            where = f"mention_type = '{ty}' AND {date_sql}"
        else:
            t = rng.choice(TOPICS)
            g = f"{w} topic:{t} -sentiment:positive date:[{d0} TO {d1}]"
            where = f"'{t}' = ANY(topics) AND sentiment <> 'positive' AND {date_sql}"
        out.append(("filters+date", g, "date" if i % 2 else "relevance", where, f"plainto_tsquery('russian', '{pg_text(w)}')"))
    for i in range(20):
        d0, d1 = week(rng)
        t = rng.choice(TOPICS)
        s = rng.choice(SENTIMENTS)
        date_sql = f"published_at >= '{d0} 00:00:00+03' AND published_at < ('{d1} 00:00:00+03'::timestamptz + interval '1 day')"
        out.append(("filters only, by date", f"topic:{t} sentiment:{s} date:[{d0} TO {d1}]", "date",
                    f"'{t}' = ANY(topics) AND sentiment = '{s}' AND {date_sql}", None))
    assert len(out) == 200
    return out


def pg_sql(where, tsq, sort):
    conds = []
    if tsq:
        conds.append("tsv @@ q")
    if where:
        conds.append(where)
    from_q = f", (SELECT {tsq} AS q) qq" if tsq else ""
    order = "ts_rank(tsv, q) DESC" if (sort == "relevance" and tsq) else "published_at DESC"
    inner = f"SELECT id, title, text, published_at{', q' if tsq else ''} FROM mentions{from_q} WHERE {' AND '.join(conds)} ORDER BY {order} LIMIT 20"
    if tsq:
        return f"SELECT id, title, published_at, ts_headline('russian', text, q, 'MaxWords=35, MinWords=15') FROM ({inner}) top"
    return f"SELECT id, title, published_at, left(text, 240) FROM ({inner}) top"


def run(cmd, **kw):
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(cmd, check=True, **kw)


def timed(cmd, **kw):
    t = time.perf_counter()
    run(cmd, **kw)
    return time.perf_counter() - t


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    sys.exit("PostgreSQL server binaries not found under /usr/lib/postgresql (scripts/bench-search installs them)")


def as_pg_user(cmd):
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--"] + [str(c) for c in cmd]
    return [str(c) for c in cmd]


def pct(xs, p):
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, int(round(p / 100 * len(xs) + 0.5)) - 1))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--glas", default="target/release/glas")
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--work", default=os.path.expanduser("~/.cache/glas-bench-search"))
    ap.add_argument("--datasets", default="../shared/data")
    ap.add_argument("--reuse-glas", action="store_true",
                    help="keep the glas store and load timings of the previous run (to rerun the PostgreSQL side and the queries)")
    args = ap.parse_args()
    import psycopg

    glas = os.path.abspath(args.glas)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    res = {"count": args.count, "machine": {"cpus": os.cpu_count(), "cpu": cpu_name()}}

    corpus = work / f"corpus-{args.count}.jsonl"
    if not corpus.exists():
        run([glas, "gen-corpus", "--count", str(args.count), "--out", corpus, "--datasets", args.datasets])
    res["corpus_bytes"] = corpus.stat().st_size

    data = work / "glas-data"
    partial = work / "glas-load.json"
    export = work / "enriched.jsonl"
    tsv = work / "enriched.tsv"
    if args.reuse_glas and partial.exists() and tsv.exists():
        res.update(json.loads(partial.read_text()))
    else:
        shutil.rmtree(data, ignore_errors=True)
        res["glas_import_s"] = timed([glas, "import", "--data", data, corpus, "--batch", "20000"])
        res["glas_reindex_s"] = timed([glas, "reindex", "--data", data])
        res["glas_index_bytes"] = du(data / "index")
        res["glas_log_bytes"] = du(data / "log")
        # The enriched mentions, for PostgreSQL (not timed).
        run([glas, "search", "", "--export", export, "--data", data])
        with open(export, encoding="utf-8") as src, open(tsv, "w", encoding="utf-8") as dst:
            esc = lambda s: (s or "").replace("\\", "\\\\").replace("\t", " ").replace("\n", " ").replace("\r", " ")
            arr = lambda xs: "{" + ",".join('"' + x.replace('"', "") + '"' for x in xs) + "}"
            for line in src:
                m = json.loads(line)
                e = m["enrichment"]
                dst.write("\t".join([esc(m["id"]), esc(m["source"]), m["published_at"], esc(m.get("title")) or "\\N",
                                     esc(m["text"]), e["sentiment"], arr(e["topics"]), arr(e["places"]),
                                     e["mention_type"], e["cluster"]]) + "\n")
        partial.write_text(json.dumps({k: v for k, v in res.items() if k.startswith("glas_")}))

    # PostgreSQL in a throwaway cluster on loopback.
    # As root the server runs as `postgres`, which may not enter WORK: use /tmp.
    pgdir = Path(tempfile.mkdtemp(prefix="glas-bench-pg-")) if os.geteuid() == 0 else work / "pg"
    if os.geteuid() == 0:
        shutil.chown(pgdir, "postgres", "postgres")
    else:
        shutil.rmtree(pgdir, ignore_errors=True)
        pgdir.mkdir()
    bin_ = pg_bin()
    run(as_pg_user([bin_ / "initdb", "-D", pgdir / "data", "--auth=trust", "-U", "bench", "-E", "UTF8", "--locale=C.UTF-8"]),
        stdout=subprocess.DEVNULL)
    port = free_port()
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {pgdir} -c shared_buffers=2GB -c work_mem=64MB "
            f"-c maintenance_work_mem=2GB -c max_parallel_maintenance_workers=2 -c max_wal_size=8GB -c fsync=on")
    run(as_pg_user([bin_ / "pg_ctl", "-D", pgdir / "data", "-o", opts, "-l", pgdir / "log", "-w", "start"]))
    serve = None
    try:
        conn = psycopg.connect(host="127.0.0.1", port=port, user="bench", dbname="postgres", autocommit=True)
        cur = conn.cursor()
        res["postgres_version"] = cur.execute("SHOW server_version").fetchone()[0]
        cur.execute("""CREATE TABLE mentions (
            id text PRIMARY KEY, source text, published_at timestamptz, title text, text text,
            sentiment text, topics text[], places text[], mention_type text, cluster text,
            tsv tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('russian', coalesce(title, '')), 'A') || setweight(to_tsvector('russian', text), 'B')
            ) STORED)""")
        t = time.perf_counter()
        with cur.copy("COPY mentions (id, source, published_at, title, text, sentiment, topics, places, mention_type, cluster) FROM STDIN") as cp:
            with open(tsv, "rb") as f:
                while chunk := f.read(1 << 20):
                    cp.write(chunk)
        res["pg_copy_s"] = time.perf_counter() - t
        t = time.perf_counter()
        cur.execute("CREATE INDEX mentions_tsv ON mentions USING gin (tsv)")
        res["pg_gin_s"] = time.perf_counter() - t
        t = time.perf_counter()
        cur.execute("CREATE INDEX mentions_date ON mentions (published_at)")
        cur.execute("CREATE INDEX mentions_topics ON mentions USING gin (topics)")
        cur.execute("CREATE INDEX mentions_places ON mentions USING gin (places)")
        cur.execute("CREATE INDEX mentions_sentiment ON mentions (sentiment)")
        cur.execute("CREATE INDEX mentions_type ON mentions (mention_type)")
        cur.execute("ANALYZE mentions")
        res["pg_other_indexes_s"] = time.perf_counter() - t
        res["pg_table_bytes"] = cur.execute("SELECT pg_table_size('mentions')").fetchone()[0]
        res["pg_gin_bytes"] = cur.execute("SELECT pg_relation_size('mentions_tsv')").fetchone()[0]
        res["pg_all_indexes_bytes"] = cur.execute("SELECT pg_indexes_size('mentions')").fetchone()[0]

        # The API wants a token (an analyst's, as a script would use).
        token = subprocess.run([glas, "token", "create", f"bench-{int(time.time())}", "--role", "analyst", "--data", data],
                               check=True, capture_output=True, text=True).stdout.strip()
        serve = subprocess.Popen([glas, "serve", "--addr", "127.0.0.1:0", "--data", data], stdout=subprocess.PIPE, text=True)
        line = serve.stdout.readline()
        addr = line.split("http://")[1].split()[0]
        host, gport = addr.split(":")
        hc = http.client.HTTPConnection(host, int(gport))

        qs = queries()

        def glas_once(q, sort):
            url = "/api/search?" + urllib.parse.urlencode({"q": q, "sort": sort, "size": 20})
            t = time.perf_counter()
            hc.request("GET", url, headers={"Authorization": f"Bearer {token}"})
            r = hc.getresponse()
            body = r.read()
            dt = time.perf_counter() - t
            if r.status != 200:
                raise SystemExit(f"glas failed on {q!r}: {body[:300]!r}")
            return dt, json.loads(body)["total"]

        def pg_once(sql):
            t = time.perf_counter()
            rows = cur.execute(sql).fetchall()
            return time.perf_counter() - t, len(rows)

        for _, g, sort, where, tsq in qs:  # warm-up
            glas_once(g, sort)
            pg_once(pg_sql(where, tsq, sort))
        per = []
        for cat, g, sort, where, tsq in qs:
            gt, total = glas_once(g, sort)
            pt, rows = pg_once(pg_sql(where, tsq, sort))
            per.append({"category": cat, "glas_query": g, "sort": sort, "glas_ms": gt * 1000, "glas_total": total,
                        "pg_ms": pt * 1000, "pg_rows": rows})
        res["queries"] = per
        summary = {}
        for name in ["all"] + sorted({p["category"] for p in per}):
            sel = [p for p in per if name == "all" or p["category"] == name]
            summary[name] = {
                "n": len(sel),
                "glas_p50_ms": pct([p["glas_ms"] for p in sel], 50), "glas_p99_ms": pct([p["glas_ms"] for p in sel], 99),
                "pg_p50_ms": pct([p["pg_ms"] for p in sel], 50), "pg_p99_ms": pct([p["pg_ms"] for p in sel], 99),
                "glas_mean_ms": statistics.mean(p["glas_ms"] for p in sel), "pg_mean_ms": statistics.mean(p["pg_ms"] for p in sel),
            }
        res["summary"] = summary
    finally:
        if serve:
            serve.kill()
        run(as_pg_user([bin_ / "pg_ctl", "-D", pgdir / "data", "-m", "fast", "stop"]))
        shutil.rmtree(pgdir, ignore_errors=True)
    (work / "results.json").write_text(json.dumps(res, ensure_ascii=False, indent=1))
    report(res)


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def report(r):
    mb = lambda b: f"{b / 1e6:,.0f} MB"
    glas_build = r["glas_reindex_s"]
    pg_build = r["pg_copy_s"] + r["pg_gin_s"]
    print(f"\n## {r['count']:,} mentions, {r['machine']['cpus']} cores ({r['machine']['cpu']}), PostgreSQL {r['postgres_version']}\n")
    print("| | glas | PostgreSQL |\n|---|---|---|")
    print(f"| load + index | {glas_build:.0f} s (`glas reindex`: tokenize + index from the log) | {pg_build:.0f} s (COPY with tsvector {r['pg_copy_s']:.0f} s + GIN {r['pg_gin_s']:.0f} s) |")
    print(f"| full ingest | {r['glas_import_s']:.0f} s (`glas import`: enrich + log + index) | +{r['pg_other_indexes_s']:.0f} s filter indexes and ANALYZE |")
    print(f"| index on disk | {mb(r['glas_index_bytes'])} (whole tantivy index, stored text included) | {mb(r['pg_gin_bytes'])} GIN; {mb(r['pg_table_bytes'])} table + {mb(r['pg_all_indexes_bytes'])} all indexes |")
    s = r["summary"]
    print("\n| queries | n | glas p50 | glas p99 | PostgreSQL p50 | PostgreSQL p99 | p99 ratio |\n|---|---|---|---|---|---|---|")
    for name, v in s.items():
        print(f"| {name} | {v['n']} | {v['glas_p50_ms']:.1f} ms | {v['glas_p99_ms']:.1f} ms | {v['pg_p50_ms']:.1f} ms | "
              f"{v['pg_p99_ms']:.1f} ms | {v['pg_p99_ms'] / max(v['glas_p99_ms'], 1e-9):.0f}× |")
    print(f"\nbuild speed ratio (PostgreSQL COPY + GIN / glas reindex): {pg_build / glas_build:.1f}×")


if __name__ == "__main__":
    main()
