"""Published NAB results shipped with the data (``nab/reference_results``), for scorer checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray


@dataclass(frozen=True)
class ReferenceFile:
    """One detector's published scores for one NAB file, with the file's windows."""

    relative_path: str
    timestamps: NDArray[np.int64]
    scores: NDArray[np.float64]
    windows: list[tuple[str, str]]


def reference_dir(data_dir: Path) -> Path:
    """Folder of NAB's published results inside the data folder."""
    return Path(data_dir) / "nab" / "reference_results"


def load_windows(data_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """NAB's ``combined_windows.json``: relative file path to its windows."""
    raw = json.loads((Path(data_dir) / "nab" / "labels" / "combined_windows.json").read_text())
    return {path: [(str(a), str(b)) for a, b in windows] for path, windows in raw.items()}


def load_reference_files(data_dir: Path, detector: str) -> list[ReferenceFile]:
    """Every file a published detector scored, in NAB's window file order."""
    base = reference_dir(data_dir) / detector
    out = []
    for relative, windows in load_windows(data_dir).items():
        category, name = relative.split("/")
        frame = pd.read_csv(base / category / f"{detector}_{name}")
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"]))
        out.append(
            ReferenceFile(
                relative_path=relative,
                timestamps=stamps.asi8.astype(np.int64),
                scores=frame["anomaly_score"].to_numpy(float),
                windows=windows,
            )
        )
    return out


def load_published(data_dir: Path) -> tuple[dict[str, dict[str, float]], dict[str, object]]:
    """NAB's ``final_results.json`` (normalised scores) and ``thresholds.json``."""
    base = reference_dir(data_dir)
    final = json.loads((base / "final_results.json").read_text())
    thresholds = json.loads((base / "thresholds.json").read_text())
    return final, thresholds
