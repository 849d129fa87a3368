#!/usr/bin/env bash
# The model-serving bench side by side (issue 4): kubesage serve --model-repository against
# FastAPI + uvicorn + scikit-learn on the same models, requests and client. Makes .venv-bench
# with benches/requirements-serve.txt (pinned; wheels only), then runs the bench in the bench
# profile. KUBESAGE_BENCH_SECS=N measures N seconds per server and model (default 10);
# KUBESAGE_BENCH_FASTAPI_WORKERS=1,2 chooses uvicorn's worker counts (default both).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-bench/bin/python ]; then
    python3 -m venv .venv-bench
fi
.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -r benches/requirements-serve.txt
export KUBESAGE_BENCH_PYTHON="$PWD/.venv-bench/bin/python"
exec cargo bench --locked -p kubesage-benches --bench model_serve "$@"
