"""KubeSage: find what is broken in a Kubernetes cluster, and detect anomalies in its metrics.

>>> import kubesage
>>> result = kubesage.scan(demo=True)
>>> result.findings[0].severity
'critical'

The heavy lifting is Rust (the same core as the ``kubesage`` command and its Rust crates);
calls release the GIL, so threads can scan and score in parallel.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional, Sequence, Union

from . import anomaly
from ._kubesage import (
    ClusterError,
    DetectorError,
    Finding,
    InvalidInputError,
    KubeSageError,
    Model,
    ModelError,
    PrometheusError,
    ScanResult,
    SnapshotError,
    __version__,
    analyzers,
    explain,
    kb_search,
)
from ._kubesage import scan as _scan

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "ClusterError",
    "DetectorError",
    "Finding",
    "InvalidInputError",
    "KubeSageError",
    "Model",
    "ModelError",
    "PrometheusError",
    "ScanResult",
    "SnapshotError",
    "__version__",
    "analyzers",
    "anomaly",
    "explain",
    "kb_search",
    "scan",
]


def scan(
    demo: bool = False,
    snapshot: Optional[Union[PathLike, Sequence[PathLike]]] = None,
    kubeconfig: Optional[PathLike] = None,
    context: Optional[str] = None,
    namespace: Optional[str] = None,
    selector: Optional[str] = None,
    analyzers: Optional[Iterable[str]] = None,
) -> ScanResult:
    """Scan for broken workloads and return a :class:`ScanResult`.

    Exactly one source is used: ``demo=True`` (the broken demo cluster embedded in the
    library), ``snapshot=`` (files or folders written by ``kubectl get ... -o json|yaml``),
    or a live cluster through ``kubeconfig=`` and ``context=`` (the default kubeconfig, or
    the in-cluster service account, when neither is given). ``namespace`` and ``selector``
    (``"app=web,tier!=db"``) restrict what is reported; ``analyzers`` picks analyzers by name.

    Raises :class:`SnapshotError` for unreadable or malformed snapshots,
    :class:`ClusterError` for a cluster that cannot be reached, and
    :class:`InvalidInputError` for bad selectors or analyzer names.
    """
    paths = None
    if snapshot is not None:
        items = [snapshot] if isinstance(snapshot, (str, os.PathLike)) else list(snapshot)
        paths = [os.fspath(p) for p in items]
    return _scan(
        demo=demo,
        snapshot=paths,
        kubeconfig=os.fspath(kubeconfig) if kubeconfig is not None else None,
        context=context,
        namespace=namespace,
        selector=selector,
        analyzers=list(analyzers) if analyzers is not None else None,
    )
