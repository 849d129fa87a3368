"""Shared fixtures for the tests of the installed ``kubesage`` package.

The tests import the installed wheel, never the source tree: run them from outside the
repository (``cd /tmp && python -m pytest /path/to/kubesage-py/tests``), as ``scripts/test`` does.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest

import kubesage

# Loopback connections in the error tests must never go through a proxy from the environment.
for _var in ("NO_PROXY", "no_proxy"):
    _hosts = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_hosts + ["127.0.0.1", "localhost"])

TESTS = Path(__file__).resolve().parent
# shared/ lies beside the repository: /work/main/kubesage-py/tests -> /work/shared.
NAB = (TESTS / ".." / ".." / ".." / "shared" / "data" / "nab").resolve()


@pytest.fixture(scope="session")
def nab_dir() -> Path:
    """The NAB corpus in shared/ (read-only)."""
    assert (NAB / "combined_windows.json").is_file(), f"NAB data not found at {NAB}"
    return NAB


@pytest.fixture(scope="session")
def demo() -> kubesage.ScanResult:
    """One scan of the embedded demo cluster, shared by the tests that only read it."""
    return kubesage.scan(demo=True)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _crashing_pod(name: str, namespace: str, labels: Dict[str, str], restarts: int = 5) -> Dict[str, Any]:
    """A Pod whose only container is in CrashLoopBackOff, in the shape the API server returns."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels, "uid": f"{name}-uid"},
        "spec": {"containers": [{"name": "app", "image": "example.com/app:1"}], "nodeName": "node-1"},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "example.com/app:1",
                    "imageID": "",
                    "ready": False,
                    "restartCount": restarts,
                    "lastState": {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "startedAt": "2026-11-20T09:58:57Z",
                            "finishedAt": "2026-11-20T09:59:00Z",
                        }
                    },
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s restarting"}},
                }
            ],
        },
    }


def _cordoned_node(name: str) -> Dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "spec": {"unschedulable": True},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


@pytest.fixture
def crashing_pod() -> Callable[..., Dict[str, Any]]:
    return _crashing_pod


@pytest.fixture
def cordoned_node() -> Callable[[str], Dict[str, Any]]:
    return _cordoned_node


@pytest.fixture
def write_snapshot(tmp_path: Path) -> Callable[..., Path]:
    """Writes a ``kind: List`` of objects (JSON, as ``kubectl get -o json`` does) and returns its path."""

    def write(items: List[Dict[str, Any]], name: str = "snapshot.json", folder: Optional[Path] = None) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        return path

    return write


@pytest.fixture
def snapshot_file(write_snapshot: Callable[..., Path]) -> Path:
    """Two crash-looping pods in two namespaces and a cordoned node."""
    return write_snapshot(
        [
            _crashing_pod("web-1", "shop", {"app": "web"}),
            _crashing_pod("db-1", "data", {"app": "db"}),
            _cordoned_node("node-1"),
        ]
    )
