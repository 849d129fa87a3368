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


def svc_checks(model, onx, x_test, zipmap: bool | None) -> list[dict]:
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


def regressor_checks(model, onx, x_test, zipmap: bool | None) -> list[dict]:
    values = model.predict(x_test).reshape(len(x_test), -1)
    return [{"output": output_names(onx)[0], "kind": "values", "expected": values.tolist()}]


def isolation_checks(model, onx, x_test, zipmap: bool | None) -> list[dict]:
    label, scores = output_names(onx)[:2]
    return [
        {"output": label, "kind": "labels", "expected": [int(v) for v in model.predict(x_test)]},
        {"output": scores, "kind": "scores", "expected": model.decision_function(x_test).reshape(-1, 1).tolist()},
    ]


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The training and held-out data the cases name, by name."""
    binary = classification(2, 0)
    reg = regression(2)
    return {
        "binary": binary,
        "multi": classification(3, 1),
        "reg": reg,
        "binary_nan": (with_missing(binary[0], 3), binary[1]),
        "reg_nan": (with_missing(reg[0], 4), reg[1]),
    }


# The models, each built afresh for every case that uses it.
def logreg():
    return LogisticRegression(max_iter=1000)


def decision_tree():
    return DecisionTreeClassifier(max_depth=5, random_state=0)


def random_forest():
    return RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0)


def gradient_boosting():
    return GradientBoostingClassifier(n_estimators=30, max_depth=3, random_state=0)


# How each kind of model is checked, and whether it is exported with ZipMap's option
# (classifiers: `zipmap=False` unless the case wants the default ZipMap output).
CLASSIFIER, SVM, REGRESSOR, OUTLIERS = "classifier", "svm", "regressor", "outliers"
CHECKS = {
    CLASSIFIER: classifier_checks,
    SVM: svc_checks,
    REGRESSOR: regressor_checks,
    OUTLIERS: isolation_checks,
}

# (name, model factory, data set, kind, ZipMap output) for every fixture, in manifest order.
CASES = [
    ("logreg_binary", logreg, "binary", CLASSIFIER, False),
    ("logreg_binary_zipmap", logreg, "binary", CLASSIFIER, True),
    ("logreg_multiclass", logreg, "multi", CLASSIFIER, False),
    ("logreg_multiclass_zipmap", logreg, "multi", CLASSIFIER, True),
    ("scaler_logreg", lambda: make_pipeline(StandardScaler(), logreg()), "multi", CLASSIFIER, False),
    (
        "imputer_scaler_logreg",
        lambda: make_pipeline(SimpleImputer(strategy="mean"), StandardScaler(), logreg()),
        "binary_nan",
        CLASSIFIER,
        False,
    ),
    (
        "imputer_median_linreg",
        lambda: make_pipeline(SimpleImputer(strategy="median"), LinearRegression()),
        "reg_nan",
        REGRESSOR,
        False,
    ),
    ("tree_classifier_binary", decision_tree, "binary", CLASSIFIER, False),
    ("tree_classifier_multiclass", decision_tree, "multi", CLASSIFIER, False),
    ("tree_regressor", lambda: DecisionTreeRegressor(max_depth=6, random_state=0), "reg", REGRESSOR, False),
    ("forest_classifier_binary", random_forest, "binary", CLASSIFIER, False),
    ("forest_classifier_multiclass", random_forest, "multi", CLASSIFIER, False),
    ("forest_classifier_multiclass_zipmap", random_forest, "multi", CLASSIFIER, True),
    (
        "forest_regressor",
        lambda: RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0),
        "reg",
        REGRESSOR,
        False,
    ),
    ("gradient_boosting_binary", gradient_boosting, "binary", CLASSIFIER, False),
    ("gradient_boosting_binary_zipmap", gradient_boosting, "binary", CLASSIFIER, True),
    ("gradient_boosting_multiclass", gradient_boosting, "multi", CLASSIFIER, False),
    (
        "gradient_boosting_regressor",
        lambda: GradientBoostingRegressor(n_estimators=50, max_depth=3, random_state=0),
        "reg",
        REGRESSOR,
        False,
    ),
    ("linear_regression", LinearRegression, "reg", REGRESSOR, False),
    ("svc_binary", lambda: SVC(probability=True, random_state=0), "binary", SVM, False),
    ("svc_multiclass", lambda: SVC(probability=True, random_state=0), "multi", SVM, False),
    ("svc_linear_scores", lambda: SVC(kernel="linear", random_state=0), "multi", SVM, False),
    ("svr", lambda: make_pipeline(StandardScaler(), SVR(C=10.0)), "reg", REGRESSOR, False),
    ("knn_classifier", lambda: KNeighborsClassifier(n_neighbors=5), "multi", CLASSIFIER, False),
    ("knn_regressor", lambda: KNeighborsRegressor(n_neighbors=5), "reg", REGRESSOR, False),
    ("isolation_forest", lambda: IsolationForest(n_estimators=20, random_state=0), "binary", OUTLIERS, False),
]


def model_name(model) -> str:
    if hasattr(model, "steps"):
        return " + ".join(type(s).__name__ for _, s in model.steps)
    return type(model).__name__


def train(model, data: tuple[np.ndarray, np.ndarray], kind: str, zipmap: bool):
    """Trains and exports one case; returns the fitted model, its ONNX export, the held-out
    rows and scikit-learn's answers on them (the checks). kubesage-py/tests/test_model.py
    calls it too, so the Python test and the Rust parity test check the same models."""
    x, y = data
    x_train, y_train = x[:N_TRAIN], y[:N_TRAIN]
    x_test = x[N_TRAIN:]
    if kind == OUTLIERS:
        model.fit(x_train)
    else:
        model.fit(x_train, y_train)
    # Classifiers say whether they keep ZipMap; other models have no such option.
    classifies = kind in (CLASSIFIER, SVM)
    onx = export(model, x_train, zipmap if classifies else None)
    built = CHECKS[kind](model, onx, x_test, zipmap if kind == CLASSIFIER else None)
    return model, onx, x_test, built


def write_case(out: Path, name: str, model, data: tuple[np.ndarray, np.ndarray], kind: str, zipmap: bool) -> dict:
    """Trains, exports and checks one case into ``out/name``; returns its manifest entry."""
    model, onx, x_test, built = train(model, data, kind, zipmap)
    case_dir = out / name
    case_dir.mkdir()
    (case_dir / "model.onnx").write_bytes(onx.SerializeToString())
    expected = {
        "case": name,
        "model": model_name(model),
        "input": onx.graph.input[0].name,
        "rows": rows_json(x_test),
        "checks": built,
    }
    (case_dir / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    ops = sorted({f"{n.domain or 'ai.onnx'}:{n.op_type}" for n in onx.graph.node})
    print(f"{name}: {', '.join(ops)}")
    return {"name": name, "ops": ops}


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
    data = datasets()
    for name, make, data_set, kind, zipmap in CASES:
        manifest["cases"].append(write_case(out, name, make(), data[data_set], kind, zipmap))

    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
    (out / "script.sha256").write_text(digest + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
