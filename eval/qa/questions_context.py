"""QA questions needing context: explanations, state, eclipses, follow-ups, plots, none."""

from __future__ import annotations

from datetime import datetime, timedelta

from eval.qa.items import QAItem, listed, periods
from eval.qa.truth import Truth, z


def explanations(t: Truth) -> list[QAItem]:
    """Explanations that must cite a co-occurring anomaly or an event just before."""
    sim = [r for r in t.rows if r.satellite == "SIM-1"]
    with_peer = sorted((r for r in sim if t.co_occurring(r)), key=lambda r: r.id)[:4]
    with_event = sorted(
        (r for r in sim if t.events_before(r, 300) and not t.co_occurring(r)), key=lambda r: r.id
    )[:3]
    items = []
    templates = ("explain anomaly {id}", "pourquoi l'anomalie {id} ?")
    for n, row in enumerate(with_peer):
        peers = t.co_occurring(row)
        items.append(
            QAItem(
                id=f"why-peer-{n + 1:02d}",
                family="explain",
                lang="fr" if n % 2 else "en",
                turns=(templates[n % 2].format(id=row.id),),
                dates=(z(row.start),),
                names=(f"#{row.id}", *(f"#{p.id}" for p in peers[:1])),
                subset=n == 0,
            )
        )
    for n, row in enumerate(with_event):
        items.append(
            QAItem(
                id=f"why-event-{n + 1:02d}",
                family="explain",
                lang="fr" if n % 2 else "en",
                turns=(templates[n % 2].format(id=row.id),),
                dates=(z(row.start), *(z(ts) for ts in t.events_before(row, 300))),
                subset=n == 0,
            )
        )
    last_voltage = t.last(channel="bus_voltage")
    items.append(
        QAItem(
            id="why-channel-fr",
            family="explain",
            lang="fr",
            turns=("pourquoi la tension batterie a chuté ?",),
            names=(f"#{last_voltage.id}",),
            dates=(z(last_voltage.start),),
            subset=True,
        )
    )
    return items


#: The word of a "healthy" verdict, per language of the question ("attention" is both).
HEALTHY = {"en": "healthy", "fr": "bonne santé"}


def states(t: Truth, now: datetime) -> list[QAItem]:
    items = []
    cases = [
        ("en", "is SIM-1 healthy right now?", "SIM-1", True),
        ("fr", "est-ce que SIM-1 est en bonne santé ?", "SIM-1", False),
        ("en", "what is the status of MSL?", "MSL", False),
        ("fr", "état de SMAP ?", "SMAP", True),
    ]
    for n, (lang, question, satellite, subset) in enumerate(cases, 1):
        channels = [(s, c, cid) for s, c, cid in t.channels if s == satellite]
        lasts = [t.last_point[cid] for _, _, cid in channels]
        ongoing = [r for r in t.rows if r.satellite == satellite and r.ongoing]
        fresh = all((now - ts) <= timedelta(minutes=15) for ts in lasts)
        items.append(
            QAItem(
                id=f"state-{n:02d}",
                family="state",
                lang=lang,
                turns=(question,),
                ids=frozenset(r.id for r in ongoing),
                dates=tuple(sorted({z(ts) for ts in lasts})),
                first_line=(HEALTHY[lang],) if fresh and not ongoing else ("attention",),
                names=tuple(f"{s}/{c}" for s, c, _ in channels),
                subset=subset,
            )
        )
    return items


def eclipses(t: Truth) -> list[QAItem]:
    entry, exit_ = t.last_eclipse("SIM-1")
    rows = t.anomalies(satellite="SIM-1", start=entry, end=exit_)
    panel = [r for r in rows if r.channel == "panel_temperature"]
    period = (entry, exit_)
    return [
        listed(
            "eclipse-01", "eclipse", "en", "anomalies during the last eclipse", rows, period, True
        ),
        listed(
            "eclipse-02",
            "eclipse",
            "fr",
            "quelles anomalies pendant la dernière éclipse ?",
            rows,
            period,
        ),
        listed(
            "eclipse-03",
            "eclipse",
            "en",
            "anomalies on the panel temperature during the last eclipse",
            panel,
            period,
        ),
        QAItem(
            id="eclipse-04",
            family="eclipse",
            lang="fr",
            turns=("combien d'anomalies pendant la dernière éclipse ?",),
            ids=frozenset(),
            total=len(rows),
            first_line=(str(len(rows)),),
            dates=(z(entry), z(exit_)),
            subset=True,
        ),
    ]


def follow_ups(t: Truth, now: datetime) -> list[QAItem]:
    p = periods(now)
    today, yesterday = p["today"], p["yesterday"]
    wheel_last = t.last(channel="wheel_speed")
    volt_last = t.last(channel="bus_voltage")
    return [
        listed(
            "follow-01",
            "follow_up",
            "en",
            ("anomalies on SIM-1 today", "and on the wheel?"),
            t.anomalies(channel="wheel_speed", start=today[0], end=today[1]),
            today,
            True,
        ),
        listed(
            "follow-02",
            "follow_up",
            "fr",
            ("quelles anomalies sur la roue hier ?", "et sur la tension ?"),
            t.anomalies(channel="bus_voltage", start=yesterday[0], end=yesterday[1]),
            yesterday,
            True,
        ),
        listed(
            "follow-03",
            "follow_up",
            "en",
            ("anomalies on the bus voltage today", "what about yesterday?"),
            t.anomalies(channel="bus_voltage", start=yesterday[0], end=yesterday[1]),
            yesterday,
        ),
        listed(
            "follow-04",
            "follow_up",
            "en",
            ("anomalies on MSL in January 2020", "and on SMAP?"),
            t.anomalies(satellite="SMAP", start=p["january 2020"][0], end=p["january 2020"][1]),
            p["january 2020"],
        ),
        QAItem(
            id="follow-05",
            family="follow_up",
            lang="en",
            turns=("when did the last anomaly on the wheel start?", "why?"),
            names=(f"#{wheel_last.id}",),
            dates=(z(wheel_last.start),),
            subset=True,
        ),
        QAItem(
            id="follow-06",
            family="follow_up",
            lang="fr",
            turns=("quand a commencé la dernière anomalie sur la tension ?", "pourquoi ?"),
            names=(f"#{volt_last.id}",),
            dates=(z(volt_last.start),),
        ),
        QAItem(
            id="follow-07",
            family="follow_up",
            lang="en",
            turns=("when did the last anomaly on the wheel start?", "show me a plot of it"),
            ids=frozenset({wheel_last.id}),
            dates=(z(wheel_last.start), z(wheel_last.end)),
            plot_channel=wheel_last.channel_id,
            subset=True,
        ),
        QAItem(
            id="follow-08",
            family="follow_up",
            lang="fr",
            turns=("combien d'anomalies hier ?", "et sur MSL ?"),
            ids=frozenset(),
            total=len(t.anomalies(satellite="MSL", start=yesterday[0], end=yesterday[1])),
            dates=(z(yesterday[0]), z(yesterday[1])),
        ),
        QAItem(
            id="follow-09",
            family="follow_up",
            lang="en",
            turns=(f"show anomaly {volt_last.id}", "when did it end?"),
            ids=frozenset({volt_last.id}),
            dates=(z(volt_last.end),),
        ),
    ]


def plots(t: Truth, now: datetime) -> list[QAItem]:
    today = periods(now)["today"]
    wheel = t.channel_id("SIM-1", "wheel_speed")
    volt = t.channel_id("SIM-1", "bus_voltage")
    some = min((r for r in t.rows if r.channel == "panel_temperature"), key=lambda r: r.id)
    return [
        QAItem(
            id="plot-01",
            family="plot",
            lang="en",
            turns=("show me a plot of the wheel speed today",),
            dates=(z(today[0]), z(today[1])),
            plot_channel=wheel,
            subset=True,
        ),
        QAItem(
            id="plot-02",
            family="plot",
            lang="fr",
            turns=("trace la tension batterie aujourd'hui",),
            dates=(z(today[0]), z(today[1])),
            plot_channel=volt,
        ),
        QAItem(
            id="plot-03",
            family="plot",
            lang="en",
            turns=(f"plot anomaly {some.id}",),
            ids=frozenset({some.id}),
            dates=(z(some.start), z(some.end)),
            plot_channel=some.channel_id,
        ),
        QAItem(
            id="plot-04",
            family="plot",
            lang="fr",
            turns=(f"graphique de l'anomalie {some.id}",),
            ids=frozenset({some.id}),
            dates=(z(some.start),),
            plot_channel=some.channel_id,
            subset=True,
        ),
    ]


def unanswerable() -> list[QAItem]:
    questions = [
        ("en", "what's the weather on Mars?", True),
        ("en", "tell me a joke", False),
        ("en", "how do I reset my password", False),
        ("fr", "quel temps fait-il à Paris ?", True),
        ("fr", "raconte-moi une blague", False),
        ("fr", "qui a gagné le match hier soir ?", False),
    ]
    return [
        QAItem(
            id=f"none-{n:02d}",
            family="unanswerable",
            lang=lang,
            turns=(question,),
            ids=frozenset(),
            unanswerable=True,
            subset=subset,
        )
        for n, (lang, question, subset) in enumerate(questions, 1)
    ]
