"""Anomaly detection on metric series: numpy arrays, pandas Series, streams and banks.

Scores are in [0, 1]; 0.5 is a sensible threshold for the default detector. ``NaN`` values
are gaps (scored 0). Timestamps are Unix seconds; without them points are taken as one
minute apart. A pandas Series with a DatetimeIndex supplies its own timestamps.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from ._kubesage import Detector, DetectorBank, InvalidInputError, detectors
from ._kubesage import detect as _detect
from ._kubesage import prometheus_query_range as _query_range

__all__ = ["Detector", "DetectorBank", "detect", "detectors", "prometheus_range", "as_arrays"]


_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _unix_seconds(timestamps: Any) -> np.ndarray:
    """Datetimes (any unit, naive taken as UTC, or zone-aware) or numbers as Unix seconds."""
    stamps = getattr(timestamps, "array", timestamps)  # a pandas Series: its underlying array
    if hasattr(stamps, "asi8") and "datetime" in str(getattr(stamps, "dtype", "")):
        # DatetimeIndex / DatetimeArray: asi8 counts the index's own unit since the epoch (UTC);
        # pandas 2 indexes may be in s/ms/us/ns and pandas 3 parses dates to microseconds.
        return np.asarray(stamps.asi8) // _PER_SECOND[str(getattr(stamps, "unit", "ns"))]
    arr = np.asarray(stamps)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[s]").astype(np.int64)
    if arr.dtype == object:
        return np.array([int(x.timestamp()) if hasattr(x, "timestamp") else x for x in arr.ravel()])
    return arr


def as_arrays(values: Any, timestamps: Any = None) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Normalise input to a float64 array of values and an int64 array of timestamps.

    Accepts numpy arrays, lists and pandas Series (a DatetimeIndex becomes timestamps).
    Copies only when the dtype or layout requires it. Scalars are not series.
    """
    index = getattr(values, "index", None)
    if timestamps is None and index is not None and "datetime" in str(getattr(index, "dtype", "")):
        timestamps = index
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    try:
        v = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"values must be numeric: {e}") from None
    if v.ndim != 1:
        raise InvalidInputError(f"values must be one-dimensional, got shape {v.shape}")
    v = np.ascontiguousarray(v)
    t = None
    if timestamps is not None:
        try:
            t = np.ascontiguousarray(_unix_seconds(timestamps), dtype=np.int64)
        except (TypeError, ValueError, OverflowError) as e:
            raise InvalidInputError(f"timestamps must be integers or datetimes: {e}") from None
        if t.shape != v.shape:
            raise InvalidInputError(f"{v.shape[0]} values but {t.shape[0] if t.ndim else 0} timestamps")
    return v, t


def detect(values: Any, timestamps: Any = None, detector: str = "default") -> np.ndarray:
    """Score every point of a series with a fresh detector; returns a float64 array in [0, 1]."""
    v, t = as_arrays(values, timestamps)
    return _detect(v, t, detector)


def prometheus_range(
    url: str, query: str, start: int, end: int, step: int, timeout: float = 30.0, as_frame: bool = False
) -> Any:
    """Run a Prometheus range query.

    Returns a list of ``(labels, timestamps, values)`` tuples of numpy arrays, or, with
    ``as_frame=True``, a pandas DataFrame with one column per series (named by its labels)
    indexed by time. Raises :class:`kubesage.PrometheusError` when Prometheus cannot be
    reached or rejects the query.
    """
    series: List[Tuple[Dict[str, str], np.ndarray, np.ndarray]] = _query_range(url, query, start, end, step, timeout)
    if not as_frame:
        return series
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    columns = {}
    for labels, ts, vs in series:
        name = labels.get("__name__", "") + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__") + "}"
        columns[name] = pd.Series(vs, index=pd.to_datetime(ts, unit="s", utc=True))
    return pd.DataFrame(columns)
