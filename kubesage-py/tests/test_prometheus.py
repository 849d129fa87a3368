"""The Prometheus source from Python: numpy tuples and a pandas DataFrame.

A real Prometheus is exercised end to end by the Rust suite (kubesage-server/tests/
e2e_prometheus.rs); here a loopback HTTP server answers with Prometheus's documented
`query_range` JSON so the binding's conversions are checked exactly.
"""

import http.server
import json
import threading
import urllib.parse

import numpy as np
import pandas as pd
import pytest

import kubesage
from kubesage import anomaly

ANSWER = {
    "status": "success",
    "data": {
        "resultType": "matrix",
        "result": [
            {"metric": {"__name__": "up", "job": "api", "pod": "api-1", "namespace": "shop"},
             "values": [[1700000000, "1"], [1700000060, "NaN"], [1700000120, "0"]]},
            {"metric": {"__name__": "up", "job": "db"}, "values": [[1700000000, "1"], [1700000060, "1"]]},
        ],
    },
}


@pytest.fixture()
def prometheus():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            seen.append(urllib.parse.urlparse(self.path))
            body = json.dumps(ANSWER).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_numpy_tuples(prometheus):
    url, seen = prometheus
    series = anomaly.prometheus_range(url, "up", 1700000000, 1700000120, 60)
    assert seen[0].path == "/api/v1/query_range"
    query = urllib.parse.parse_qs(seen[0].query)
    assert query["query"] == ["up"] and query["step"] == ["60"]
    labels, ts, vs = series[0]
    assert labels["pod"] == "api-1"
    assert ts.dtype == np.int64 and list(ts) == [1700000000, 1700000060, 1700000120]
    assert vs.dtype == np.float64 and vs[0] == 1.0 and np.isnan(vs[1]) and vs[2] == 0.0
    assert len(series) == 2


def test_dataframe(prometheus):
    url, _ = prometheus
    frame = anomaly.prometheus_range(url, "up", 1700000000, 1700000120, 60, as_frame=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ['up{job="api",namespace="shop",pod="api-1"}', 'up{job="db"}']
    assert str(frame.index.tz) == "UTC" and len(frame) == 3
    # The frame feeds the detector directly.
    assert anomaly.detect(frame.iloc[:, 0]).shape == (3,)


def test_bad_arguments(prometheus):
    url, _ = prometheus
    with pytest.raises(kubesage.InvalidInputError):
        anomaly.prometheus_range(url, "up", 0, 60, 60, timeout=-1)
    with pytest.raises(kubesage.PrometheusError):
        anomaly.prometheus_range("not a url", "up", 0, 60, 60)
