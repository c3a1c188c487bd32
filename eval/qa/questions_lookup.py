"""QA questions about anomalies in periods: lists, filters, counts, rankings, last times."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from eval.qa.items import QAItem, listed, periods
from eval.qa.truth import Truth, z


def listing(t: Truth, now: datetime) -> list[QAItem]:
    p = periods(now)
    sim = "SIM-1"
    cases: list[tuple[str, str, str, dict[str, object], str | None, bool]] = [
        ("en", "period", "which anomalies happened in the last hour?", {}, "last hour", True),
        (
            "en",
            "period",
            "anomalies on SIM-1 in the last 3 hours",
            {"satellite": sim},
            "last 3 hours",
            False,
        ),
        ("en", "period", "anomalies on SIM-1 today", {"satellite": sim}, "today", True),
        (
            "en",
            "period",
            "what went wrong on SIM-1 yesterday?",
            {"satellite": sim},
            "yesterday",
            False,
        ),
        ("en", "period", "anomalies since 3 pm CET", {}, "since 15 CET", True),
        ("en", "period", "any alerts since 9 am CET?", {}, "since 9 CET", False),
        (
            "en",
            "period",
            "anomalies on the wheel speed between 2026-03-01T18:00:00Z and 2026-03-01T22:00:00Z",
            {"channel": "wheel_speed"},
            "1 March 18-22",
            True,
        ),
        (
            "en",
            "period",
            "anomalies on MSL in January 2020",
            {"satellite": "MSL"},
            "january 2020",
            False,
        ),
        (
            "en",
            "names",
            "battery voltage anomalies today",
            {"channel": "bus_voltage"},
            "today",
            True,
        ),
        (
            "en",
            "names",
            "anomalies on the solar panel in the last 6 hours",
            {"channel": "panel_temperature"},
            "last 6 hours",
            False,
        ),
        (
            "en",
            "names",
            "show anomalies on the reaction wheel today",
            {"channel": "wheel_speed"},
            "today",
            False,
        ),
        ("en", "names", "alerts on T-9", {"channel": "T-9"}, None, False),
        (
            "en",
            "filter",
            "critical anomalies on SIM-1 today",
            {"satellite": sim, "min_severity": "critical"},
            "today",
            True,
        ),
        (
            "en",
            "filter",
            "level shifts on the wheel yesterday",
            {"channel": "wheel_speed", "kind": "level_shift"},
            "yesterday",
            False,
        ),
        (
            "en",
            "filter",
            "flatlines on SIM-1",
            {"satellite": sim, "kind": "flatline"},
            None,
            False,
        ),
        (
            "en",
            "filter",
            "high severity anomalies on MSL",
            {"satellite": "MSL", "min_severity": "high"},
            None,
            False,
        ),
        (
            "en",
            "filter",
            "trend changes on the panel temperature today",
            {"channel": "panel_temperature", "kind": "trend_change"},
            "today",
            False,
        ),
        (
            "fr",
            "period",
            "quelles anomalies hier sur SIM-1 ?",
            {"satellite": sim},
            "yesterday",
            True,
        ),
        ("fr", "period", "anomalies depuis 15 h CET", {}, "since 15 CET", True),
        (
            "fr",
            "period",
            "quelles anomalies aujourd'hui sur SIM-1 ?",
            {"satellite": sim},
            "today",
            False,
        ),
        ("fr", "period", "les anomalies de la dernière heure", {}, "last hour", False),
        (
            "fr",
            "period",
            "anomalies au cours des 3 dernières heures sur SIM-1",
            {"satellite": sim},
            "last 3 hours",
            False,
        ),
        (
            "fr",
            "period",
            "anomalies sur MSL en janvier 2020",
            {"satellite": "MSL"},
            "january 2020",
            False,
        ),
        (
            "fr",
            "period",
            "anomalies entre le 1er mars à 18 h et le 1er mars à 22 h UTC sur la roue",
            {"channel": "wheel_speed"},
            "1 March 18-22",
            True,
        ),
        (
            "fr",
            "names",
            "anomalies de la tension batterie aujourd'hui",
            {"channel": "bus_voltage"},
            "today",
            True,
        ),
        (
            "fr",
            "names",
            "problèmes sur le panneau solaire depuis 9 h CET",
            {"channel": "panel_temperature"},
            "since 9 CET",
            False,
        ),
        (
            "fr",
            "names",
            "anomalies sur la vitesse de la roue hier",
            {"channel": "wheel_speed"},
            "yesterday",
            False,
        ),
        (
            "fr",
            "filter",
            "anomalies critiques sur SIM-1 hier",
            {"satellite": sim, "min_severity": "critical"},
            "yesterday",
            True,
        ),
        (
            "fr",
            "filter",
            "sauts sur la roue aujourd'hui",
            {"channel": "wheel_speed", "kind": "level_shift"},
            "today",
            False,
        ),
        (
            "fr",
            "filter",
            "anomalies graves sur MSL",
            {"satellite": "MSL", "min_severity": "high"},
            None,
            False,
        ),
        (
            "fr",
            "filter",
            "dérives sur le panneau solaire hier",
            {"channel": "panel_temperature", "kind": "trend_change"},
            "yesterday",
            False,
        ),
    ]
    items = []
    for n, (lang, family, question, filters, period_key, subset) in enumerate(cases, 1):
        period = p[period_key] if period_key else None
        bounds = {"start": period[0], "end": period[1]} if period else {}
        rows = t.anomalies(**bounds, **filters)  # type: ignore[arg-type]
        items.append(listed(f"list-{n:02d}", family, lang, question, rows, period, subset))
    return items


def counts(t: Truth, now: datetime) -> list[QAItem]:
    p = periods(now)
    cases: list[tuple[str, str, dict[str, object], str | None, bool]] = [
        ("en", "how many anomalies last month?", {}, "last month", True),
        (
            "en",
            "how many anomalies on SIM-1 yesterday?",
            {"satellite": "SIM-1"},
            "yesterday",
            False,
        ),
        (
            "en",
            "how many critical anomalies on SIM-1?",
            {"satellite": "SIM-1", "min_severity": "critical"},
            None,
            True,
        ),
        (
            "en",
            "how many anomalies on the panel temperature today?",
            {"channel": "panel_temperature"},
            "today",
            False,
        ),
        (
            "en",
            "count the level shifts on MSL",
            {"satellite": "MSL", "kind": "level_shift"},
            None,
            False,
        ),
        ("en", "number of anomalies in the last week", {}, "last week", False),
        ("fr", "combien d'anomalies le mois dernier ?", {}, "last month", True),
        ("fr", "combien d'anomalies sur SIM-1 hier ?", {"satellite": "SIM-1"}, "yesterday", False),
        (
            "fr",
            "combien d'anomalies critiques sur MSL ?",
            {"satellite": "MSL", "min_severity": "critical"},
            None,
            True,
        ),
        (
            "fr",
            "combien de sauts sur la roue ?",
            {"channel": "wheel_speed", "kind": "level_shift"},
            None,
            False,
        ),
        (
            "fr",
            "nombre d'anomalies sur la tension aujourd'hui",
            {"channel": "bus_voltage"},
            "today",
            False,
        ),
    ]
    items = []
    for n, (lang, question, filters, period_key, subset) in enumerate(cases, 1):
        period = p[period_key] if period_key else None
        bounds = {"start": period[0], "end": period[1]} if period else {}
        total = len(t.anomalies(**bounds, **filters))  # type: ignore[arg-type]
        dates = () if period is None else (z(period[0]), z(period[1]))
        items.append(
            QAItem(
                id=f"count-{n:02d}",
                family="count",
                lang=lang,
                turns=(question,),
                ids=frozenset(),
                total=total,
                first_line=(str(total),),
                dates=dates,
                subset=subset,
            )
        )
    return items


def rankings(t: Truth, now: datetime) -> list[QAItem]:
    p = periods(now)
    cases: list[tuple[str, str, str | None, str | None, str, bool]] = [
        ("en", "which channel had the most anomalies?", None, None, "channel", True),
        (
            "en",
            "which channel had the most anomalies yesterday?",
            None,
            "yesterday",
            "channel",
            False,
        ),
        (
            "en",
            "which channel of SIM-1 had the most anomalies today?",
            "SIM-1",
            "today",
            "channel",
            False,
        ),
        ("en", "which satellite had the most anomalies?", None, None, "satellite", False),
        (
            "fr",
            "quel canal a eu le plus d'anomalies aujourd'hui ?",
            None,
            "today",
            "channel",
            True,
        ),
        ("fr", "quel satellite a eu le plus d'anomalies ?", None, None, "satellite", False),
    ]
    items = []
    for n, (lang, question, satellite, period_key, unit, subset) in enumerate(cases, 1):
        period = p[period_key] if period_key else None
        bounds = {"start": period[0], "end": period[1]} if period else {}
        rows = t.anomalies(satellite=satellite, **bounds)  # type: ignore[arg-type]
        tally = Counter(
            r.satellite if unit == "satellite" else f"{r.satellite}/{r.channel}" for r in rows
        )
        best = max(tally.values())
        leaders = tuple(sorted(k for k, v in tally.items() if v == best))
        items.append(
            QAItem(
                id=f"rank-{n:02d}",
                family="ranking",
                lang=lang,
                turns=(question,),
                ids=frozenset(),
                first_line=(*leaders, str(best)),
                dates=() if period is None else (z(period[0]), z(period[1])),
                subset=subset,
            )
        )
    return items


def last_times(t: Truth) -> list[QAItem]:
    cases: list[tuple[str, str, dict[str, object], bool]] = [
        ("en", "when did the last anomaly on the wheel start?", {"channel": "wheel_speed"}, True),
        (
            "en",
            "When did the latest anomaly on SIM-1 bus_voltage end?",
            {"satellite": "SIM-1", "channel": "bus_voltage"},
            False,
        ),
        (
            "en",
            "when was the last critical anomaly on SIM-1?",
            {"satellite": "SIM-1", "min_severity": "critical"},
            False,
        ),
        ("en", "when did the last anomaly on MSL C-1 happen?", {"channel": "C-1"}, False),
        (
            "fr",
            "quand a commencé la dernière anomalie sur la tension ?",
            {"channel": "bus_voltage"},
            True,
        ),
        ("fr", "quand a eu lieu la dernière anomalie sur SMAP ?", {"satellite": "SMAP"}, False),
    ]
    items = []
    for n, (lang, question, filters, subset) in enumerate(cases, 1):
        row = t.last(**filters)
        items.append(
            QAItem(
                id=f"when-{n:02d}",
                family="last_time",
                lang=lang,
                turns=(question,),
                ids=frozenset({row.id}),
                dates=(z(row.start), z(row.end)),
                subset=subset,
            )
        )
    return items
