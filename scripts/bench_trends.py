#!/usr/bin/env python3
"""The reference for glas's trend job: the same aggregates written the way a
data analyst would in pandas, over the same Parquet log.

    python3 scripts/bench_trends.py DATA_DIR/log

Computes hourly and daily aggregates per topic x place x source kind
(mentions, stories, negative, positive, negative stories, complaint share,
views, comments, shares, unique authors, negative share, net sentiment) and
the daily tension index per topic x place and for the district, as
crates/glas-analytics/src/trends.rs documents. Prints the row counts and the
seconds each step took, as JSON.
"""
import glob
import json
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

COLUMNS = ["published_at", "utc_offset_s", "source", "source_kind", "author", "sentiment",
           "mention_type", "cluster", "topics", "places", "views", "comments", "shares"]


def plain(t):
    """polars writes string views; pandas reads plain strings."""
    fields = []
    for f in t.schema:
        ty = f.type
        if ty == pa.string_view():
            ty = pa.string()
        elif pa.types.is_list(ty) or pa.types.is_large_list(ty):
            ty = pa.list_(pa.string())
        fields.append(pa.field(f.name, ty))
    return t.cast(pa.schema(fields))


def load(log_dir):
    parts = sorted(glob.glob(f"{log_dir}/day=*/*.parquet"))
    tables = [plain(pq.read_table(p, columns=COLUMNS)) for p in parts]
    return pa.concat_tables(tables).to_pandas()


def base(df):
    df = df.assign(
        local=pd.to_datetime(df["published_at"]) + pd.to_timedelta(df["utc_offset_s"].astype("int64"), unit="s"),
        voice=df["author"].fillna(df["source"]),
        neg=df["sentiment"] == "negative",
        pos=df["sentiment"] == "positive",
        complaint=df["mention_type"] == "complaint",
        views=df["views"].fillna(0),
        comments=df["comments"].fillna(0),
        shares=df["shares"].fillna(0),
    )
    df = df.explode("topics").explode("places")
    df["topic"] = df["topics"].fillna("none")
    df["place"] = df["places"].fillna("")
    return df


def aggregates(df, period):
    g = df.groupby([period, "topic", "place", "source_kind"], sort=True)
    out = g.agg(
        mentions=("neg", "size"),
        stories=("cluster", "nunique"),
        negative=("neg", "sum"),
        positive=("pos", "sum"),
        complaint_share=("complaint", "mean"),
        views=("views", "sum"),
        comments=("comments", "sum"),
        shares=("shares", "sum"),
        authors=("voice", "nunique"),
    )
    out["negative_stories"] = df[df["neg"]].groupby([period, "topic", "place", "source_kind"])["cluster"].nunique()
    out["negative_stories"] = out["negative_stories"].fillna(0)
    out["negative_share"] = (out["negative"] / out["mentions"]).round(3)
    out["net_sentiment"] = ((out["positive"] - out["negative"]) / out["mentions"]).round(3)
    return out.reset_index()


def tension(df):
    neg = df[df["neg"]].copy()
    neg["day"] = neg["local"].dt.normalize()

    def pressure(keys):
        s = neg.groupby(keys + ["cluster"]).agg(
            complaint=("complaint", "any"), views=("views", "sum"), comments=("comments", "sum"),
            shares=("shares", "sum"))
        reach = s["views"] / 100 + s["comments"] + s["shares"]
        s["p"] = (1 + 0.5 * s["complaint"]) * (1 + 0.25 * np.log1p(reach))
        return s.groupby(keys).agg(pressure=("p", "sum"), negative_stories=("p", "size")).reset_index()

    series = pressure(["day", "topic", "place"])
    district = pressure(["day"]).assign(topic="all", place="all")
    both = pd.concat([series, district], ignore_index=True)
    days = pd.date_range(both["day"].min(), both["day"].max(), freq="D")
    keys = both[["topic", "place"]].drop_duplicates()
    grid = keys.merge(pd.DataFrame({"day": days}), how="cross")
    t = grid.merge(both, on=["day", "topic", "place"], how="left").fillna({"pressure": 0.0, "negative_stories": 0})
    t = t.sort_values(["topic", "place", "day"])
    g = t.groupby(["topic", "place"])["pressure"]
    t["usual"] = g.transform(lambda s: s.shift(1).rolling(28, min_periods=1).mean()).fillna(0.0)
    t["tension_index"] = (100 * t["pressure"] / (t["pressure"] + t["usual"].clip(lower=1.0))).round(1)
    return t


def main():
    log_dir = sys.argv[1]
    times = {}
    started = time.perf_counter()
    df = load(log_dir)
    times["read"] = time.perf_counter() - started
    t = time.perf_counter()
    b = base(df)
    b["hour"] = b["local"].dt.floor("h")
    b["day"] = b["local"].dt.normalize()
    times["prepare"] = time.perf_counter() - t
    t = time.perf_counter()
    hourly = aggregates(b, "hour")
    times["hourly"] = time.perf_counter() - t
    t = time.perf_counter()
    daily = aggregates(b, "day")
    times["daily"] = time.perf_counter() - t
    t = time.perf_counter()
    ten = tension(b)
    times["tension"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - started
    print(json.dumps({
        "mentions": len(df),
        "hourly_rows": len(hourly),
        "daily_rows": len(daily),
        "tension_rows": len(ten),
        "seconds": {k: round(v, 2) for k, v in times.items()},
        "pandas": pd.__version__,
    }))


if __name__ == "__main__":
    main()
