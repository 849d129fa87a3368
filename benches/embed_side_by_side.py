"""onnxruntime's side of benches/embed_throughput.rs: the same sentences through the same
model.onnx and tokenizer.json, the way KubeSage's embedder treats them.

Usage: python benches/embed_side_by_side.py --model-dir DIR --sentences FILE.json --out FILE.f32
       [--batch 32] [--threads 2] [--passes 3]

Tokenizes with `tokenizers` (padding reset to the longest sentence of each batch, truncation
at 256 tokens, as KubeSage does: the shipped file pads to a fixed 128), runs the graph with
onnxruntime at `intra_op_num_threads` = --threads, mean-pools `last_hidden_state` under the
attention mask and scales each vector to unit length. After one warm-up batch it times
--passes passes over all batches (tokenization included) and keeps the best. Writes the
vectors of the last pass to --out as little-endian float32 rows, and prints one JSON line:
{"sentences": n, "sentences_per_s": x, "onnxruntime": version, ...}.

Needs numpy, onnxruntime and tokenizers (scripts/models/requirements.txt).
"""

import argparse
import json
import os
import sys
import time

MAX_TOKENS = 256


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--sentences", required=True, help="a JSON list of strings")
    parser.add_argument("--out", required=True, help="where to write the vectors (float32 rows)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args()

    try:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as e:
        sys.exit(f"embed_side_by_side.py needs numpy, onnxruntime and tokenizers: {e}")

    with open(args.sentences, encoding="utf-8") as f:
        sentences = json.load(f)
    batches = [sentences[i : i + args.batch] for i in range(0, len(sentences), args.batch)]

    tokenizer = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    tokenizer.enable_padding()  # pad to the longest in each batch (defaults: id 0, "[PAD]")
    tokenizer.enable_truncation(max_length=MAX_TOKENS)

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(
        os.path.join(args.model_dir, "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    input_names = {i.name for i in session.get_inputs()}

    def embed(batch):
        encodings = tokenizer.encode_batch(batch)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in input_names:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        (hidden,) = session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    embed(batches[0])
    best = float("inf")
    vectors = None
    for _ in range(args.passes):
        started = time.perf_counter()
        out = [embed(batch) for batch in batches]
        best = min(best, time.perf_counter() - started)
        vectors = np.concatenate(out)
    vectors.astype("<f4").tofile(args.out)
    print(
        json.dumps(
            {
                "sentences": len(sentences),
                "batch": args.batch,
                "threads": args.threads,
                "seconds": best,
                "sentences_per_s": len(sentences) / best,
                "onnxruntime": ort.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
