"""Published and calibration-run numbers the report prints beside the measured ones.

Published anchors come from each benchmark's papers or leaderboards (all series of the
benchmark); calibration-run anchors were measured on exactly the series in
``../shared/data`` by an earlier run of the project and are the closer comparison.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Anchor:
    """One reference number: which method, which metric, the value and where it is from."""

    benchmark: str
    method: str
    metric: str
    value: float
    source: str


ANCHORS: tuple[Anchor, ...] = (
    Anchor("nab", "Numenta HTM", "standard", 70.1, "NAB scoreboard (published)"),
    Anchor("nab", "ARTime", "standard", 74.9, "NAB scoreboard (published)"),
    Anchor("nab", "CAD OSE", "reward_low_FP_rate", 67.0, "NAB scoreboard (published)"),
    Anchor("smap", "LSTM-DT (telemanom)", "f1", 0.73, "Hundman et al. 2018, all 55 channels"),
    Anchor("smap", "best published", "f1", 0.76, "literature, all channels"),
    Anchor("smap", "MP discord (train-referenced)", "f1", 0.74, "calibration run, these 6"),
    Anchor("msl", "LSTM-DT (telemanom)", "f1", 0.46, "Hundman et al. 2018, all 27 channels"),
    Anchor("msl", "best published", "f1", 0.66, "literature, all channels"),
    Anchor("msl", "MP pipeline", "f1", 0.47, "literature, all channels"),
    Anchor("msl", "MP discord (train-referenced)", "f1", 0.43, "calibration run, these 4"),
    Anchor("ucr", "MP discord", "correct", 4.0, "calibration run, these 6 (of 6)"),
    Anchor("tcpd", "binseg", "f1", 0.744, "TCPD default experiment (published)"),
    Anchor("tcpd", "binseg", "cover", 0.706, "TCPD default experiment (published)"),
    Anchor("tcpd", "zero", "f1", 0.669, "TCPD default experiment (published)"),
    Anchor("tcpd", "zero", "cover", 0.583, "TCPD default experiment (published)"),
    Anchor("tcpd", "binseg", "f1", 0.718, "calibration run, these 31 univariate"),
    Anchor("tcpd", "binseg", "cover", 0.675, "calibration run, these 31 univariate"),
    Anchor("tcpd", "zero", "f1", 0.663, "calibration run, these 31 univariate"),
    Anchor("tcpd", "zero", "cover", 0.567, "calibration run, these 31 univariate"),
)


def anchors_for(benchmark: str) -> list[Anchor]:
    """The anchors of one benchmark, in the order above."""
    return [a for a in ANCHORS if a.benchmark == benchmark]
