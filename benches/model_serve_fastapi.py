"""The peer of benches/model_serve.rs: FastAPI on uvicorn serving the scikit-learn estimators
that benches/model_serve_models.py fitted (joblib files), on the Open Inference Protocol's
JSON infer route, so the bench sends both servers the same request bytes.

    MODEL_SERVE_SKLEARN_DIR=WORK/sklearn python -m uvicorn model_serve_fastapi:app \
        --app-dir benches --host 127.0.0.1 --port PORT --workers N \
        --loop uvloop --http httptools --no-access-log --log-level warning

Written as a FastAPI service usually is, in its fast configuration: pydantic models for the
request and the response (pydantic-core validates and serializes), an `async def` handler (no
hop to the thread pool; the model runs on the event loop, as the work is CPU-bound anyway),
uvloop and httptools, no access log, and one uvicorn process per worker. Each estimator
computes `predict_proba` once; the label is the class of the largest probability, which is
what scikit-learn's `predict` does for these two models.
"""

import os
from pathlib import Path

import joblib
import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[float]
    parameters: dict | None = None


class RequestOutput(BaseModel):
    name: str
    parameters: dict | None = None


class InferenceRequest(BaseModel):
    id: str | None = None
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None
    parameters: dict | None = None


class ResponseOutput(BaseModel):
    name: str
    datatype: str
    shape: list[int]
    data: list[float] | list[int]


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


def load_models():
    folder = Path(os.environ.get("MODEL_SERVE_SKLEARN_DIR", "."))
    return {path.stem: joblib.load(path) for path in sorted(folder.glob("*.joblib"))}


MODELS = load_models()
app = FastAPI()


@app.get("/v2/health/ready")
async def ready():
    return {"ready": bool(MODELS)}


@app.post("/v2/models/{name}/infer", response_model=InferenceResponse, response_model_exclude_none=True)
async def infer(name: str, request: InferenceRequest):
    model = MODELS.get(name)
    if model is None:
        raise HTTPException(status_code=404, detail=f"model {name!r}: not found")
    if len(request.inputs) != 1:
        raise HTTPException(status_code=400, detail="expected one input tensor")
    tensor = request.inputs[0]
    if tensor.datatype != "FP32" or len(tensor.shape) != 2 or tensor.shape[1] != model.n_features_in_:
        raise HTTPException(status_code=400, detail=f"expected FP32 [-1, {model.n_features_in_}]")
    x = np.asarray(tensor.data, dtype=np.float32).reshape(tensor.shape)
    probabilities = model.predict_proba(x)
    labels = model.classes_[np.argmax(probabilities, axis=1)]
    outputs = {
        "label": ResponseOutput(name="label", datatype="INT64", shape=[len(labels)], data=labels.tolist()),
        "probabilities": ResponseOutput(
            name="probabilities",
            datatype="FP32",
            shape=list(probabilities.shape),
            data=probabilities.astype(np.float32).ravel().tolist(),
        ),
    }
    wanted = [o.name for o in request.outputs] if request.outputs else list(outputs)
    unknown = [n for n in wanted if n not in outputs]
    if unknown:
        raise HTTPException(status_code=400, detail=f"unknown outputs {unknown}")
    return InferenceResponse(
        model_name=name, model_version="1", id=request.id, outputs=[outputs[n] for n in wanted]
    )
