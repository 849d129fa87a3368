"""Drives `kubesage serve --model-repository DIR` with NVIDIA's own KServe v2 client,
tritonclient.http, and checks every answer against scikit-learn's predictions.

Run by kubesage-server/tests/e2e_kserve_tritonclient.rs, which lays out the repository
before it starts the server:

    DIR/forest/1/model.onnx   forest_classifier_binary
    DIR/logreg/1/model.onnx   logreg_multiclass
    DIR/logreg/2/model.onnx   logreg_binary

Each fixture folder holds `expected.json` (scripts/models/sklearn_fixtures.py): the input
rows, scikit-learn's labels and probabilities. This script copies one more fixture
(forest_classifier_multiclass, as `late`) into the repository while the server runs, to check
that `load_model` serves it without a restart.

Prints one line a check; exits 1 with `FAIL: ...` on the first mismatch.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

PROBABILITY_TOLERANCE = 1e-5

# Repository name, version, fixture case.
LAYOUT = [
    ("forest", "1", "forest_classifier_binary"),
    ("logreg", "1", "logreg_multiclass"),
    ("logreg", "2", "logreg_binary"),
]
LATE = ("late", "1", "forest_classifier_multiclass")


class Mismatch(Exception):
    """A check that failed: what was expected and what the server did."""


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def ok(message):
    print(f"ok: {message}", flush=True)


def load_expected(fixtures, case):
    with open(Path(fixtures) / case / "expected.json", encoding="utf-8") as f:
        expected = json.load(f)
    checks = {c["output"]: c for c in expected["checks"]}
    return {
        "case": case,
        "input": expected["input"],
        "rows": np.asarray(expected["rows"], dtype=np.float32),
        "labels": np.asarray(checks["label"]["expected"], dtype=np.int64),
        "probabilities": np.asarray(checks["probabilities"]["expected"], dtype=np.float64),
        "classes": len(checks["probabilities"]["classes"]),
    }


def expect_error(what, call, status, *fragments):
    """Runs `call`, which must raise InferenceServerException with `status` and a message
    containing every fragment (the server's own words, passed on by the client)."""
    try:
        call()
    except InferenceServerException as e:
        message = e.message() or ""
        check(
            str(e.status()) == status,
            f"{what}: expected HTTP {status}, got {e.status()} ({message!r})",
        )
        for fragment in fragments:
            check(fragment in message, f"{what}: the error {message!r} does not mention {fragment!r}")
        ok(f"{what}: {status} {message}")
        return
    raise Mismatch(f"{what}: the request succeeded; expected an InferenceServerException")


def compare(what, result, expected, rows):
    labels = result.as_numpy("label")
    probabilities = result.as_numpy("probabilities")
    check(labels is not None, f"{what}: no `label` output in {result.get_response()}")
    check(probabilities is not None, f"{what}: no `probabilities` output in {result.get_response()}")
    check(labels.dtype == np.int64, f"{what}: labels are {labels.dtype}, expected int64")
    check(probabilities.dtype == np.float32, f"{what}: probabilities are {probabilities.dtype}, expected float32")
    want_labels = expected["labels"][rows]
    want_probabilities = expected["probabilities"][rows]
    check(labels.shape == want_labels.shape, f"{what}: label shape {labels.shape}, expected {want_labels.shape}")
    check(
        probabilities.shape == want_probabilities.shape,
        f"{what}: probability shape {probabilities.shape}, expected {want_probabilities.shape}",
    )
    wrong = np.flatnonzero(labels != want_labels)
    check(
        wrong.size == 0,
        f"{what}: {wrong.size} labels differ from scikit-learn's, first at row {wrong[:1]}: "
        f"{labels[wrong[:1]]} vs {want_labels[wrong[:1]]}",
    )
    worst = float(np.max(np.abs(probabilities.astype(np.float64) - want_probabilities)))
    check(
        worst <= PROBABILITY_TOLERANCE,
        f"{what}: probabilities differ from scikit-learn's by up to {worst:.3g} (> {PROBABILITY_TOLERANCE})",
    )
    return worst


def infer(client, model, expected, rows, binary_in, binary_out, version="", request_id=""):
    """Infers `rows` of the fixture; `binary_out` None requests no outputs by name (the
    client then asks for every output in binary)."""
    x = expected["rows"][rows]
    tensor = httpclient.InferInput(expected["input"], list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary_in)
    outputs = None
    if binary_out is not None:
        outputs = [
            httpclient.InferRequestedOutput("label", binary_data=binary_out),
            httpclient.InferRequestedOutput("probabilities", binary_data=binary_out),
        ]
    return client.infer(model, [tensor], model_version=version, outputs=outputs, request_id=request_id)


def check_metadata(client, model, version, expected):
    meta = client.get_model_metadata(model, model_version=version)
    check(meta["name"] == model, f"metadata of {model}: name {meta['name']!r}")
    check(meta.get("platform") == "onnx", f"metadata of {model}: platform {meta.get('platform')!r}")
    inputs = {t["name"]: t for t in meta["inputs"]}
    outputs = {t["name"]: t for t in meta["outputs"]}
    features = expected["rows"].shape[1]
    check(list(inputs) == [expected["input"]], f"metadata of {model}: inputs {list(inputs)}")
    x = inputs[expected["input"]]
    check(
        x["datatype"] == "FP32" and x["shape"] == [-1, features],
        f"metadata of {model}: input {x}, expected FP32 [-1, {features}]",
    )
    check(set(outputs) == {"label", "probabilities"}, f"metadata of {model}: outputs {list(outputs)}")
    check(
        outputs["label"]["datatype"] == "INT64" and outputs["label"]["shape"] == [-1],
        f"metadata of {model}: label {outputs['label']}, expected INT64 [-1]",
    )
    p = outputs["probabilities"]
    check(
        p["datatype"] == "FP32" and p["shape"] == [-1, expected["classes"]],
        f"metadata of {model}: probabilities {p}, expected FP32 [-1, {expected['classes']}]",
    )
    return meta


def index_states(client):
    return {(e["name"], str(e.get("version", ""))): e.get("state", "") for e in client.get_model_repository_index()}


def run(url, repository, fixtures):
    client = httpclient.InferenceServerClient(url=url, connection_timeout=30.0, network_timeout=30.0)
    expected = {(m, v): load_expected(fixtures, case) for m, v, case in LAYOUT}
    forest = expected[("forest", "1")]
    logreg1 = expected[("logreg", "1")]
    logreg2 = expected[("logreg", "2")]
    all_rows = slice(None)
    one_row = slice(3, 4)

    check(client.is_server_live(), "is_server_live is False")
    check(client.is_server_ready(), "is_server_ready is False with every model loaded")
    ok("server live and ready")

    meta = client.get_server_metadata()
    extensions = set(meta.get("extensions", []))
    check(
        {"model_repository", "binary_tensor_data"} <= extensions,
        f"server metadata lists extensions {sorted(extensions)}; expected model_repository and binary_tensor_data",
    )
    check(meta.get("name") and meta.get("version"), f"server metadata without name or version: {meta}")
    ok(f"server metadata {meta}")

    states = index_states(client)
    want = {("forest", "1"): "READY", ("logreg", "1"): "READY", ("logreg", "2"): "READY"}
    check(states == want, f"repository index {states}; expected {want}")
    ok(f"repository index {sorted(states.items())}")

    for model, version in [("forest", ""), ("logreg", ""), ("logreg", "1"), ("logreg", "2")]:
        check(client.is_model_ready(model, model_version=version), f"{model} version {version!r} is not ready")
    ok("forest and logreg (versions 1, 2 and the default) ready")

    check_metadata(client, "forest", "", forest)
    meta = check_metadata(client, "logreg", "", logreg2)
    check(sorted(meta["versions"]) == ["1", "2"], f"logreg's metadata lists versions {meta['versions']}")
    check_metadata(client, "logreg", "1", logreg1)
    check_metadata(client, "logreg", "2", logreg2)
    ok("model metadata: FP32 [-1, 6] in; INT64 [-1] labels and FP32 [-1, classes] probabilities out")

    # Every combination of binary and JSON tensors, both ways, and the client's default
    # (outputs not named: all of them in binary), on a batch and on one row.
    for model, version, fixture in [("forest", "", forest), ("logreg", "1", logreg1), ("logreg", "", logreg2)]:
        for binary_in in (True, False):
            for binary_out in (True, False, None):
                for rows in (all_rows, one_row):
                    what = f"{model} {'v' + version if version else '(default version)'} in {'binary' if binary_in else 'JSON'}, " + (
                        "outputs unnamed" if binary_out is None else f"out {'binary' if binary_out else 'JSON'}"
                    )
                    result = infer(client, model, fixture, rows, binary_in, binary_out, version=version)
                    worst = compare(what, result, fixture, rows)
                    # The client reads binary outputs by their `binary_data_size` parameter.
                    for output in result.get_response()["outputs"]:
                        in_binary = "binary_data_size" in output.get("parameters", {})
                        check(
                            in_binary == (binary_out is not False),
                            f"{what}: output {output['name']} came {'in binary' if in_binary else 'as JSON'}",
                        )
                ok(f"{what}: labels equal, probabilities within {worst:.2g}")

    result = infer(client, "logreg", logreg1, one_row, True, False, version="1", request_id="request-42")
    response = result.get_response()
    check(response.get("id") == "request-42", f"the response's id is {response.get('id')!r}, expected 'request-42'")
    check(response.get("model_name") == "logreg", f"model_name {response.get('model_name')!r}")
    check(str(response.get("model_version")) == "1", f"model_version {response.get('model_version')!r}")
    ok("the request id, model name and version come back")

    x = forest["rows"][:1, :5]
    narrow = httpclient.InferInput(forest["input"], list(x.shape), "FP32")
    narrow.set_data_from_numpy(x)
    expect_error("a row of 5 features for a model of 6", lambda: client.infer("forest", [narrow]), "400", "shape", "input")
    x = forest["rows"][:1].astype(np.float64)
    doubles = httpclient.InferInput(forest["input"], list(x.shape), "FP64")
    doubles.set_data_from_numpy(x, binary_data=False)
    expect_error("FP64 data for an FP32 input", lambda: client.infer("forest", [doubles]), "400", "FP64")
    expect_error(
        "a model that does not exist",
        lambda: infer(client, "nowhere", forest, one_row, True, True),
        "404",
        "nowhere",
    )

    client.unload_model("logreg")
    check(not client.is_model_ready("logreg"), "logreg is ready after unload_model")
    check(not client.is_model_ready("logreg", model_version="1"), "logreg v1 is ready after unload_model")
    check(client.is_model_ready("forest"), "unloading logreg made forest not ready")
    states = index_states(client)
    check(
        states.get(("logreg", "1")) != "READY" and states.get(("logreg", "2")) != "READY",
        f"the index after unloading logreg: {states}",
    )
    expect_error(
        "infer on an unloaded model",
        lambda: infer(client, "logreg", logreg2, one_row, True, True),
        "503",
        "logreg",
        "not ready",
    )
    ok("unload_model: logreg not ready, its inference refused, forest still served")

    client.load_model("logreg")
    check(client.is_model_ready("logreg"), "logreg is not ready after load_model")
    compare("logreg after load_model", infer(client, "logreg", logreg2, all_rows, True, True), logreg2, all_rows)
    compare(
        "logreg v1 after load_model",
        infer(client, "logreg", logreg1, all_rows, False, False, version="1"),
        logreg1,
        all_rows,
    )
    ok("load_model: logreg ready again, both versions answer as scikit-learn does")

    # A model copied into the repository while the server runs.
    name, version, case = LATE
    late = load_expected(fixtures, case)
    check(not client.is_model_ready(name), f"{name} is ready before it was copied")
    target = Path(repository) / name / version
    target.mkdir(parents=True)
    shutil.copyfile(Path(fixtures) / case / "model.onnx", target / "model.onnx")
    client.load_model(name)
    check(client.is_model_ready(name), f"{name} is not ready after load_model")
    check(index_states(client).get((name, version)) == "READY", f"{name} is not READY in the index")
    check_metadata(client, name, "", late)
    worst = compare(f"{name} after load_model", infer(client, name, late, all_rows, True, True), late, all_rows)
    ok(f"a model copied in after start is served after load_model (probabilities within {worst:.2g})")

    check(client.is_server_ready(), "the server is not ready at the end")
    client.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="HOST:PORT of kubesage serve")
    parser.add_argument("--repository", required=True, help="the server's --model-repository folder")
    parser.add_argument("--fixtures", required=True, help="the scikit-learn fixtures folder")
    args = parser.parse_args()
    try:
        run(args.url, args.repository, args.fixtures)
    except Mismatch as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    except InferenceServerException as e:
        print(f"FAIL: the server answered an error where none was expected: {e.status()} {e.message()}", flush=True)
        return 1
    print("all tritonclient checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
