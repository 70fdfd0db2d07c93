#!/usr/bin/env python3
"""The outlook's peer: statsforecast's SeasonalNaive, AutoETS and MSTL scored
exactly as `glas eval forecast` scores glas, on the same `date,key,count`
files, and timed on 10,000 series of 365 days. Run by scripts/bench-forecast.

    python3 scripts/bench_forecast.py FILE.csv [FILE.csv ...]

Scoring (the same as glas-analytics' `forecast::backtest`): every day of the
last 8 weeks that leaves 7 days observed is an origin; horizons 1-7; a key
counts when its mean over those 8 weeks is at least 1 a day; its MASE scale
is the mean absolute weekly seasonal difference before the first origin;
MASE is averaged over keys and divided by the seasonal naive's; coverage is
the share of actual days within the 80 % interval.
"""

import os
import sys
import time

import numpy as np
import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, SeasonalNaive

WEEKS, H, MIN_MEAN = 8, 7, 1.0


def panel(path):
    df = pd.read_csv(path, parse_dates=["date"])
    days = pd.date_range(df.date.min(), df.date.max(), freq="D")
    wide = df.pivot_table(index="date", columns="key", values="count", aggfunc="sum").reindex(days).fillna(0.0)
    return wide


def score(wide, models):
    end = len(wide)
    first = end - WEEKS * 7
    test = wide.iloc[first:]
    keys = [k for k in wide.columns if test[k].mean() >= MIN_MEAN]
    scale = {}
    for k in keys:
        train = wide[k].values[:first]
        d = np.abs(train[7:] - train[:-7])
        if d.mean() > 0:
            scale[k] = d.mean()
    keys = list(scale)
    long = wide[keys].reset_index().melt(id_vars="index", var_name="unique_id", value_name="y")
    long = long.rename(columns={"index": "ds"})
    sf = StatsForecast(models=models, freq="D", n_jobs=2)
    n_windows = (end - H) - first + 1
    started = time.time()
    cv = sf.cross_validation(df=long, h=H, step_size=1, n_windows=n_windows, level=[80])
    elapsed = time.time() - started
    out = {}
    for m in [type(m).__name__ if not hasattr(m, "alias") else m.alias for m in models]:
        cv["err"] = (cv["y"] - cv[m]).abs() / cv["unique_id"].map(scale)
        mase = cv.groupby("unique_id")["err"].mean().mean()
        lo, hi = f"{m}-lo-80", f"{m}-hi-80"
        cover = ((cv["y"] >= cv[lo]) & (cv["y"] <= cv[hi])).mean() if lo in cv else float("nan")
        out[m] = {"mase": mase, "coverage": cover}
    naive = out["SeasonalNaive"]["mase"]
    for m in out:
        out[m]["relative"] = out[m]["mase"] / naive
    return out, len(keys), elapsed


def speed(wide):
    # 10,000 series of 365 days: the files' series repeated.
    cols = list(wide.columns)
    values = wide.values[-365:]
    n = 10_000
    reps = -(-n // len(cols))
    data = np.tile(values, (1, reps))[:, :n]
    ds = wide.index[-365:]
    long = pd.DataFrame({
        "unique_id": np.repeat(np.arange(n), len(ds)),
        "ds": np.tile(ds.values, n),
        "y": data.T.reshape(-1),
    })
    times = {}
    for model in [SeasonalNaive(season_length=7), AutoETS(season_length=7), MSTL(season_length=7)]:
        name = type(model).__name__
        sf = StatsForecast(models=[model], freq="D", n_jobs=2)
        t = time.time()
        sf.forecast(df=long, h=H, level=[80])
        times[name] = time.time() - t
    return times


def main():
    files = sys.argv[1:]
    results = []
    for f in files:
        wide = panel(f)
        models = [SeasonalNaive(season_length=7), AutoETS(season_length=7), MSTL(season_length=7)]
        out, keys, elapsed = score(wide, models)
        results.append({"file": f, "keys": keys, "scores": out, "seconds": elapsed})
        for m, s in out.items():
            print(f"{f}: {m:<14} MASE {s['mase']:.3f}  × naive {s['relative']:.3f}  80% covers {100 * s['coverage']:.1f} %  ({keys} keys)")
    if os.environ.get("SPEED") == "0":
        return results, {}
    times = speed(panel(files[0]))
    for m, t in times.items():
        print(f"10,000 series × 365 days, 7 days ahead: {m:<14} {t:.1f} s")
    return results, times


if __name__ == "__main__":
    main()
