"""The models of the side-by-side serving bench (benches/model_serve.rs), trained once and
handed to both servers: a RandomForestClassifier (100 trees) and a LogisticRegression fitted
on the same fixed synthetic data (8 features, 3 classes).

Writes, under --out:

    repository/forest/1/model.onnx, repository/logreg/1/model.onnx
        skl2onnx exports (opset 17, ai.onnx.ml 3, no ZipMap: outputs `label` INT64 [-1] and
        `probabilities` FP32 [-1, 3]) for `kubesage serve --model-repository`;
    sklearn/forest.joblib, sklearn/logreg.joblib
        the same fitted estimators for the FastAPI peer (benches/model_serve_fastapi.py);
    rows.json
        held-out rows as float32 values, and scikit-learn's labels and probabilities for each,
        so the bench can check that both servers give scikit-learn's answer.
"""

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
import onnx
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

FEATURES = 8
OPSET = {"": 17, "ai.onnx.ml": 3}


def data():
    x, y = make_classification(
        n_samples=6000,
        n_features=FEATURES,
        n_informative=6,
        n_redundant=1,
        n_classes=3,
        class_sep=0.8,
        random_state=7,
    )
    # Both servers see float32 inputs: train on the values they will be sent.
    x = x.astype(np.float32)
    return x[:5000], y[:5000], x[5000:]


def export(model, path):
    onx = to_onnx(
        model,
        initial_types=[("input", FloatTensorType([None, FEATURES]))],
        target_opset=OPSET,
        options={id(model): {"zipmap": False}},
    )
    onnx.checker.check_model(onx)
    names = [o.name for o in onx.graph.output]
    if names != ["label", "probabilities"]:
        raise SystemExit(f"unexpected ONNX outputs {names}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onx.SerializeToString())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    x_train, y_train, x_test = data()
    models = {
        "forest": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1),
        "logreg": LogisticRegression(max_iter=1000),
    }
    rows = x_test[:16]
    out = {"features": FEATURES, "rows": [[float(v) for v in row] for row in rows], "models": {}}
    for name, model in models.items():
        model.fit(x_train, y_train)
        export(model, args.out / "repository" / name / "1" / "model.onnx")
        (args.out / "sklearn").mkdir(parents=True, exist_ok=True)
        joblib.dump(model, args.out / "sklearn" / f"{name}.joblib")
        out["models"][name] = {
            "labels": [int(v) for v in model.predict(rows)],
            "probabilities": model.predict_proba(rows).tolist(),
        }
        size = (args.out / "repository" / name / "1" / "model.onnx").stat().st_size
        print(f"{name}: {type(model).__name__}, ONNX {size / 1e3:.0f} KB", flush=True)
    (args.out / "rows.json").write_text(json.dumps(out), encoding="utf-8")


if __name__ == "__main__":
    main()
