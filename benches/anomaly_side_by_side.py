"""Side by side: the same series through KubeSage's detectors, river's HalfSpaceTrees and
PyOD's IForest, in one run; prints points per second and our speed ratio over each.

Usage: python benches/anomaly_side_by_side.py [--kubesage PATH] [--points N]

Needs `river` and `pyod` (pip install river pyod) and a release build of the kubesage
binary (cargo build --release -p kubesage-server). The series is a NAB file from
../shared/data/nab repeated to N points. KubeSage runs through its CLI, so its figure
includes process start-up and CSV parsing: a conservative number for us.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NAB = os.path.join(HERE, "..", "..", "shared", "data", "nab", "data", "realAWSCloudwatch", "ec2_cpu_utilization_24ae8d.csv")


def load(points):
    rows = [line.strip().split(",") for line in open(NAB, encoding="utf-8").read().splitlines()[1:] if line.strip()]
    values = np.array([float(v) for _, v in rows])
    reps = int(np.ceil(points / len(values)))
    values = np.tile(values, reps)[:points]
    start = 1_700_000_000
    stamps = start + 300 * np.arange(points)
    return stamps, values


def time_kubesage(binary, stamps, values, detector):
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.write("timestamp,value\n")
        for t, v in zip(stamps, values):
            f.write(f"{t},{v}\n")
        path = f.name
    try:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            subprocess.run([binary, "anomaly", "detect", "--csv", path, "--detector", detector, "--output", "csv"],
                           check=True, stdout=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t0)
        return len(values) / best
    finally:
        os.unlink(path)


def time_river(values):
    from river import anomaly, preprocessing
    model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(n_trees=25, height=8, window_size=250, seed=42)
    t0 = time.perf_counter()
    for v in values:
        x = {"v": float(v)}
        model.score_one(x)
        model.learn_one(x)
    return len(values) / (time.perf_counter() - t0)


def time_pyod(values, shingle=4):
    from pyod.models.iforest import IForest
    x = np.lib.stride_tricks.sliding_window_view(values, shingle)
    t0 = time.perf_counter()
    model = IForest(n_estimators=100, random_state=42)
    model.fit(x)
    model.decision_function(x)
    return len(values) / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kubesage", default=os.path.join(HERE, "..", "target", "release", "kubesage"))
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--river-points", type=int, default=20_000, help="river is slow; it scores a prefix")
    args = parser.parse_args()
    if not os.path.exists(args.kubesage):
        sys.exit(f"no kubesage binary at {args.kubesage}: cargo build --release -p kubesage-server, or pass --kubesage")
    stamps, values = load(args.points)
    ours = {d: time_kubesage(args.kubesage, stamps, values, d) for d in ("default", "forest")}
    river = time_river(values[: args.river_points])
    pyod = time_pyod(values)
    print(f"series: {len(values)} points ({os.path.basename(NAB)} repeated)")
    for d, rate in ours.items():
        print(f"kubesage {d:<8} {rate:>14,.0f} points/s (CLI, including start-up and CSV parsing)")
    print(f"river HalfSpaceTrees {river:>10,.0f} points/s (streaming, {args.river_points} points)")
    print(f"PyOD IForest         {pyod:>10,.0f} points/s (batch fit + score)")
    print(f"ratio kubesage default / river HST:  {ours['default'] / river:,.0f}x")
    print(f"ratio kubesage default / PyOD IForest: {ours['default'] / pyod:,.1f}x")
    print(f"ratio kubesage forest / river HST:   {ours['forest'] / river:,.0f}x")
    print(f"ratio kubesage forest / PyOD IForest: {ours['forest'] / pyod:,.1f}x")


if __name__ == "__main__":
    main()
