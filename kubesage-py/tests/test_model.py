"""``kubesage.Model`` against scikit-learn itself.

Each case of ``scripts/models/sklearn_fixtures.py`` (every model issue 4 lists: logistic
regression binary and multiclass, scaler and imputer pipelines, trees, forests and gradient
boosting as classifiers and regressors, linear regression, SVC and SVR, KNN, the isolation
forest, some with skl2onnx's default ZipMap output) is trained here, exported with skl2onnx,
run through the installed wheel on held-out rows, and compared with scikit-learn's own
predictions: labels equal, probabilities, scores and values within 1e-5. The training, the
data and the export are that script's, imported from the repository, so the Rust parity test
and this one check the same models.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kubesage

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "models" / "sklearn_fixtures.py"


def _fixtures() -> Any:
    spec = importlib.util.spec_from_file_location("sklearn_fixtures", SCRIPT)
    assert spec is not None and spec.loader is not None, SCRIPT
    module = importlib.util.module_from_spec(spec)
    sys.modules["sklearn_fixtures"] = module
    spec.loader.exec_module(module)
    return module


fx = _fixtures()
DATA = fx.datasets()


@pytest.mark.parametrize("case", fx.CASES, ids=[c[0] for c in fx.CASES])
def test_predictions_agree_with_scikit_learn(case: tuple) -> None:
    name, factory, data, kind, _ = case
    model, onx, x_test, checks = fx.train(factory(), DATA[data], kind, case[4])

    ours = kubesage.Model.from_bytes(onx.SerializeToString())
    assert [i["datatype"] for i in ours.inputs] == ["FP32"]
    outputs = ours.run(x_test.astype(np.float32))
    assert list(outputs) == [o["name"] for o in ours.outputs]

    for check in checks:
        got = outputs[check["output"]]
        expected = np.asarray(check["expected"])
        assert got.shape[0] == len(x_test), name
        if check["kind"] == "labels":
            assert got.dtype == np.int64, name
            # The graph's label shape: [rows] for classifiers, [rows, 1] for the isolation forest.
            np.testing.assert_array_equal(got.reshape(expected.shape), expected, err_msg=name)
        else:
            np.testing.assert_allclose(got.reshape(expected.shape), expected, atol=1e-5, rtol=0, err_msg=name)
        if check.get("zipmap"):
            labels = next(o for o in ours.outputs if o["name"] == check["output"])["class_labels"]
            assert labels == check["classes"], name


def test_a_float64_array_for_a_float32_input_is_an_error_naming_both() -> None:
    _, factory, data, kind, zipmap = next(c for c in fx.CASES if c[0] == "logreg_binary")
    _, onx, x, _ = fx.train(factory(), DATA[data], kind, zipmap)
    ours = kubesage.Model.from_bytes(onx.SerializeToString())
    with pytest.raises(kubesage.ModelError, match="datatype FP64; the model takes FP32"):
        ours.run(x.astype(np.float64))
    with pytest.raises(kubesage.ModelError, match="no such output"):
        ours.run(x.astype(np.float32), outputs=["nope"])
    with pytest.raises(kubesage.ModelError, match="no such input"):
        ours.run({"wrong": x.astype(np.float32)})
    picked = ours.run({"input": x[:3].astype(np.float32)}, outputs=["probabilities"])
    assert list(picked) == ["probabilities"] and picked["probabilities"].shape == (3, 2)


def test_broken_and_hostile_files_raise_model_error(tmp_path: Path) -> None:
    with pytest.raises(kubesage.ModelError, match="not a readable ONNX model"):
        kubesage.Model.from_bytes(b"\x08\x07 not a model")
    with pytest.raises(kubesage.ModelError):
        kubesage.Model.from_bytes(b"")
    missing = tmp_path / "absent.onnx"
    with pytest.raises(kubesage.KubeSageError):
        kubesage.Model(missing)
    assert issubclass(kubesage.ModelError, kubesage.KubeSageError)
