#!/usr/bin/env python3
"""Train small scikit-learn models, export them with skl2onnx, and record scikit-learn's answers.

What it does
    For every model the model runtime must serve (issue 4: LogisticRegression binary and
    multiclass, a StandardScaler pipeline, SimpleImputer pipelines fed NaN, decision trees,
    random forests and gradient boosting as classifiers (binary and multiclass) and regressors,
    LinearRegression, SVC and SVR, KNN, IsolationForest) it
      1. trains on deterministic synthetic data (``make_classification`` / ``make_regression``
         with a fixed ``random_state``),
      2. exports with skl2onnx, ``target_opset={"": 17, "ai.onnx.ml": 3}``, with a symbolic batch
         dimension; classifiers once with ``zipmap=False`` and, for a few, once more with the
         default ZipMap output (a sequence of maps), as users who take the defaults get it,
      3. writes ``OUT/<case>/model.onnx`` and ``OUT/<case>/expected.json``: the held-out rows
         (``null`` for NaN) and scikit-learn's own labels, probabilities, scores or values, each
         tied to the ONNX output that must reproduce it.
    ``OUT/manifest.json`` lists the cases with the versions used; ``OUT/script.sha256`` holds the
    SHA-256 of this script, so ``scripts/test`` rebuilds the fixtures only when it changes.

Why float32 rows
    The ONNX graphs take float32 inputs (as skl2onnx exports by default). The rows are rounded
    to float32 before training and predicting, so scikit-learn and the ONNX runtime see the same
    numbers; remaining differences come from float32 arithmetic in the graph (1e-6 or so), not
    from inputs that straddle a tree threshold. Regression targets are scaled to unit variance so
    an absolute tolerance means the same thing for every regressor.

Usage
    python scripts/models/sklearn_fixtures.py --out DIR

Requirements: scripts/models/sklearn-requirements.txt.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import skl2onnx
import sklearn
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import (
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

OPSET = {"": 17, "ai.onnx.ml": 3}
N_FEATURES = 6
N_TRAIN = 240
N_HELD_OUT = 60


def classification(n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=N_TRAIN + N_HELD_OUT,
        n_features=N_FEATURES,
        n_informative=4,
        n_redundant=1,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    return x.astype(np.float32).astype(np.float64), y


def regression(seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_regression(
        n_samples=N_TRAIN + N_HELD_OUT, n_features=N_FEATURES, n_informative=4, noise=5.0, random_state=seed
    )
    y = (y - y.mean()) / y.std()
    return x.astype(np.float32).astype(np.float64), y


def with_missing(x: np.ndarray, seed: int) -> np.ndarray:
    """About one value in ten replaced by NaN (never a whole row)."""
    rng = np.random.RandomState(seed)
    x = x.copy()
    mask = rng.rand(*x.shape) < 0.1
    mask[:, 0] = False
    x[mask] = np.nan
    return x


def rows_json(x: np.ndarray) -> list[list[float | None]]:
    return [[None if np.isnan(v) else float(np.float32(v)) for v in row] for row in x]


def export(model, x_train: np.ndarray, zipmap: bool | None) -> onnx.ModelProto:
    options = None
    if zipmap is False:
        options = {id(model): {"zipmap": False}}
    onx = to_onnx(
        model,
        initial_types=[("input", FloatTensorType([None, x_train.shape[1]]))],
        target_opset=OPSET,
        options=options,
    )
    onnx.checker.check_model(onx)
    return onx


def output_names(onx: onnx.ModelProto) -> list[str]:
    return [o.name for o in onx.graph.output]


def classifier_checks(model, onx, x_test, zipmap: bool) -> list[dict]:
    label, proba = output_names(onx)[:2]
    checks = [{"output": label, "kind": "labels", "expected": [int(v) for v in model.predict(x_test)]}]
    # A ZipMap output is a sequence of maps; the runtime passes the probability tensor through
    # and reports the class labels (the maps' keys) in the model's metadata.
    checks.append(
        {
            "output": proba,
            "kind": "probabilities",
            "zipmap": zipmap,
            "classes": [int(c) for c in model.classes_],
            "expected": model.predict_proba(x_test).tolist(),
        }
    )
    return checks


def svc_checks(model, onx, x_test) -> list[dict]:
    label, scores = output_names(onx)[:2]
    checks = [{"output": label, "kind": "labels", "expected": [int(v) for v in model.predict(x_test)]}]
    if model.get_params()["probability"] is True:
        checks.append({"output": scores, "kind": "probabilities", "expected": model.predict_proba(x_test).tolist()})
    else:
        d = model.decision_function(x_test)
        if d.ndim == 1:
            d = d[:, None]
        checks.append({"output": scores, "kind": "scores", "expected": d.tolist()})
    return checks


def regressor_checks(model, onx, x_test) -> list[dict]:
    values = model.predict(x_test).reshape(len(x_test), -1)
    return [{"output": output_names(onx)[0], "kind": "values", "expected": values.tolist()}]


def isolation_checks(model, onx, x_test) -> list[dict]:
    label, scores = output_names(onx)[:2]
    return [
        {"output": label, "kind": "labels", "expected": [int(v) for v in model.predict(x_test)]},
        {"output": scores, "kind": "scores", "expected": model.decision_function(x_test).reshape(-1, 1).tolist()},
    ]


def cases():
    """(name, model, (x, y), checks builder, zipmap) for every fixture."""
    binary = classification(2, 0)
    multi = classification(3, 1)
    reg = regression(2)
    binary_nan = (with_missing(binary[0], 3), binary[1])
    reg_nan = (with_missing(reg[0], 4), reg[1])

    clf = classifier_checks
    yield "logreg_binary", LogisticRegression(max_iter=1000), binary, clf, False
    yield "logreg_binary_zipmap", LogisticRegression(max_iter=1000), binary, clf, True
    yield "logreg_multiclass", LogisticRegression(max_iter=1000), multi, clf, False
    yield "logreg_multiclass_zipmap", LogisticRegression(max_iter=1000), multi, clf, True
    yield "scaler_logreg", make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), multi, clf, False
    yield (
        "imputer_scaler_logreg",
        make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), LogisticRegression(max_iter=1000)),
        binary_nan,
        clf,
        False,
    )
    yield (
        "imputer_median_linreg",
        make_pipeline(SimpleImputer(strategy="median"), LinearRegression()),
        reg_nan,
        regressor_checks,
        None,
    )
    yield "tree_classifier_binary", DecisionTreeClassifier(max_depth=5, random_state=0), binary, clf, False
    yield "tree_classifier_multiclass", DecisionTreeClassifier(max_depth=5, random_state=0), multi, clf, False
    yield "tree_regressor", DecisionTreeRegressor(max_depth=6, random_state=0), reg, regressor_checks, None
    yield (
        "forest_classifier_binary",
        RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0),
        binary,
        clf,
        False,
    )
    yield (
        "forest_classifier_multiclass",
        RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0),
        multi,
        clf,
        False,
    )
    yield (
        "forest_classifier_multiclass_zipmap",
        RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0),
        multi,
        clf,
        True,
    )
    yield (
        "forest_regressor",
        RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0),
        reg,
        regressor_checks,
        None,
    )
    yield (
        "gradient_boosting_binary",
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        binary,
        clf,
        False,
    )
    yield (
        "gradient_boosting_binary_zipmap",
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        binary,
        clf,
        True,
    )
    yield (
        "gradient_boosting_multiclass",
        GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0),
        multi,
        clf,
        False,
    )
    yield (
        "gradient_boosting_regressor",
        GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=0),
        reg,
        regressor_checks,
        None,
    )
    yield "linear_regression", LinearRegression(), reg, regressor_checks, None
    yield "svc_binary", SVC(probability=True, random_state=0), binary, svc_checks, False
    yield "svc_multiclass", SVC(probability=True, random_state=0), multi, svc_checks, False
    yield "svc_linear_scores", SVC(kernel="linear", random_state=0), multi, svc_checks, False
    yield "svr", make_pipeline(StandardScaler(), SVR(C=10.0)), reg, regressor_checks, None
    yield "knn_classifier", KNeighborsClassifier(n_neighbors=5), multi, clf, False
    yield "knn_regressor", KNeighborsRegressor(n_neighbors=5), reg, regressor_checks, None
    yield (
        "isolation_forest",
        IsolationForest(n_estimators=20, random_state=0),
        binary,
        isolation_checks,
        None,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="output directory (replaced)")
    args = parser.parse_args()
    # SVC(probability=True) is deprecated in scikit-learn 1.9 (removed in 1.11) but is what
    # users of SVC have exported so far; the requirements pin 1.9.
    warnings.simplefilter("ignore", FutureWarning)

    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    manifest = {
        "scikit-learn": sklearn.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "opset": OPSET,
        "cases": [],
    }
    for name, model, (x, y), checks, zipmap in cases():
        x_train, y_train = x[:N_TRAIN], y[:N_TRAIN]
        x_test = x[N_TRAIN:]
        if isinstance(model, IsolationForest):
            model.fit(x_train)
        else:
            model.fit(x_train, y_train)
        onx = export(model, x_train, zipmap)
        built = checks(model, onx, x_test, zipmap) if checks is classifier_checks else checks(model, onx, x_test)
        case_dir = out / name
        case_dir.mkdir()
        (case_dir / "model.onnx").write_bytes(onx.SerializeToString())
        expected = {
            "case": name,
            "model": type(model).__name__ if not hasattr(model, "steps") else " + ".join(
                type(s).__name__ for _, s in model.steps
            ),
            "input": onx.graph.input[0].name,
            "rows": rows_json(x_test),
            "checks": built,
        }
        (case_dir / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
        ops = sorted({f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in onx.graph.node})
        manifest["cases"].append({"name": name, "ops": ops})
        print(f"{name}: {', '.join(ops)}")

    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    (out / "script.sha256").write_text(digest + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
