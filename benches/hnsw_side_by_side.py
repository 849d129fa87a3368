"""hnswlib's side of benches/vector_index.rs: the same vectors, queries and ground truth.

Usage: python benches/hnsw_side_by_side.py --base FILE.f32 --queries FILE.f32 --truth FILE.u32
       --dim 384 [--k 10] [--m 16] [--ef-construction 200] [--ef 32,64,128] [--build-threads 1]

--base and --queries are little-endian float32 rows of --dim; --truth holds the ids of the
exact --k nearest base vectors of each query, little-endian uint32 rows (id = row of --base).
Builds an hnswlib index (space "cosine") with --build-threads threads, then for each --ef
answers all queries in one knn_query call on one thread, so the time is the C++ library's
alone, and scores recall@k against --truth. Prints one JSON line:
{"hnswlib": version, "build_s": s, "runs": [{"ef": e, "recall": r, "qps": q}, ...]}.

Needs numpy and hnswlib (scripts/models/requirements.txt).
"""

import argparse
import json
import sys
import time
from importlib import metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--truth", required=True)
    parser.add_argument("--dim", type=int, required=True)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=200)
    parser.add_argument("--ef", default="32,64,128", help="comma-separated search widths")
    parser.add_argument("--build-threads", type=int, default=1)
    args = parser.parse_args()

    try:
        import hnswlib
        import numpy as np
    except ImportError as e:
        sys.exit(f"hnsw_side_by_side.py needs numpy and hnswlib: {e}")

    base = np.fromfile(args.base, dtype="<f4").reshape(-1, args.dim)
    queries = np.fromfile(args.queries, dtype="<f4").reshape(-1, args.dim)
    truth = np.fromfile(args.truth, dtype="<u4").reshape(len(queries), args.k)

    index = hnswlib.Index(space="cosine", dim=args.dim)
    index.init_index(max_elements=len(base), ef_construction=args.ef_construction, M=args.m)
    index.set_num_threads(args.build_threads)
    started = time.perf_counter()
    index.add_items(base, np.arange(len(base)), num_threads=args.build_threads)
    build_s = time.perf_counter() - started

    index.set_num_threads(1)
    runs = []
    for ef in (int(e) for e in args.ef.split(",") if e):
        index.set_ef(max(ef, args.k))
        index.knn_query(queries[:50], k=args.k, num_threads=1)
        started = time.perf_counter()
        labels, _ = index.knn_query(queries, k=args.k, num_threads=1)
        seconds = time.perf_counter() - started
        found = sum(len(set(row.tolist()) & set(want.tolist())) for row, want in zip(labels, truth))
        runs.append({"ef": ef, "recall": found / truth.size, "qps": len(queries) / seconds})

    print(json.dumps({"hnswlib": metadata.version("hnswlib"), "build_s": build_s, "runs": runs}))


if __name__ == "__main__":
    main()
