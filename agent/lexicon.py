"""The planner's vocabulary, English and French: intent keywords, kinds, severities.

Questions are folded first (lower case, accents removed, one character for one, see
:func:`fold`), so every word here is written folded: "anomalie", "derniere", "chute".
French words that name a measured quantity or a part of the spacecraft are mapped to
their English equivalents (:data:`GLOSSARY`) before channel names and descriptions,
which are in English, are matched.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    """Lower case without accents, one character for each character of ``text``.

    Keeping the length lets a match in the folded text be cut from the original.
    """
    out = []
    for char in text.lower():
        base = unicodedata.normalize("NFD", char)[0]
        out.append(base if len(unicodedata.normalize("NFD", char)) > 1 else char)
    return "".join(out)


def _weights(**groups: tuple[float, str]) -> dict[str, float]:
    """``name=(weight, "word word ...")`` groups as one word -> weight table."""
    return {word: weight for weight, words in groups.values() for word in words.split()}


#: Keyword weights per intent; a question's intent is the best-scoring one.
INTENT_WORDS: dict[str, dict[str, float]] = {
    "explain": _weights(
        strong=(3, "why explain explanation explanations cause caused causes reason reasons"),
        strong_fr=(3, "pourquoi expliquer explique explication explications raison raisons"),
        weak=(1, "root origine"),
    ),
    "last_time": _weights(
        strong=(3, "when quand"),
        some=(1, "last latest recent derniere dernier recente"),
        weak=(
            0.5,
            "start started begin began end ended stop stopped finish finished time "
            "commence debute fini termine heure",
        ),
    ),
    "affected_channels": _weights(
        strong=(3, "affected impacted touches affectes concernes impactes"),
        some=(2, "involved implique impliques"),
        weak=(1, "hit channels canaux voies"),
        weaker=(0.5, "channel canal voie"),
    ),
    "list_channels": _weights(
        some=(2, "channels canaux voies"),
        one=(
            1,
            "channel canal voie list liste lister available disponibles measure measured "
            "monitor monitored sensors capteurs mesure mesures surveilles",
        ),
        weak=(0.5, "telemetry telemesure"),
    ),
    "list_anomalies": _weights(
        strong=(2, "anomalies anomaly anomalous alerts alert alarms alarm anomalie alertes"),
        strong_fr=(2, "alerte alarme alarmes"),
        some=(
            1.5,
            "issues problems faults glitches incidents spikes happened occurred wrong "
            "problemes probleme pannes panne incidents passe arrive survenu survenues",
        ),
        weak=(1, "events unusual evenements"),
        weaker=(0.5, "any quelles quels"),
    ),
    "get_anomaly": _weights(
        some=(2, "details detail describe info information decris"),
        weak=(1, "about show montre"),
    ),
    "summary": _weights(
        strong=(3, "summary summarise summarize stats statistics resume statistiques"),
        some=(2, "min minimum max maximum mean average moyenne"),
        weak=(1, "values value range points valeurs valeur"),
    ),
    "detect": _weights(
        strong=(4, "detect scan detecte detecter"),
        some=(2.5, "detection"),
        analyse=(2, "analyse analyze analyser"),
        weak=(1, "rerun run lance lancer"),
    ),
    "count": _weights(
        strong=(3, "many count number combien nombre"),
        weak=(1, "total"),
    ),
    "ranking": _weights(
        strong=(3, "most least plus moins"),
        weak=(1, "top worst busiest noisiest"),
    ),
    "state": _weights(
        strong=(3, "healthy health status state sante etat nominal"),
        some=(2, "fresh stale ok okay fine working fonctionne frais"),
        weak=(1, "right currently actuellement maintenant moment"),
    ),
    "forecast": _weights(
        strong=(4, "forecast forecasts predict prediction projection extrapolate prevision"),
        some=(2, "will prevoir"),
        move=(1.5, "fall drop exceed cross dip tomber descendre depasser atteindra"),
        weak=(1, "below above under rate heading sous dessus rythme"),
    ),
    "model": _weights(
        strong=(5, "configured configuration trained training retrained parametrized"),
        strong_fr=(5, "configure configuree entraine entrainement parametres"),
        some=(2, "model models modele parameters"),
    ),
    "plot": _weights(
        strong=(4, "plot plots graph chart figure courbe graphique tracer trace"),
        weak=(1, "draw visualise visualize afficher dessine"),
    ),
}
#: On equal scores the intent listed first wins.
PRIORITY = (
    "plot",
    "forecast",
    "model",
    "explain",
    "state",
    "count",
    "ranking",
    "last_time",
    "detect",
    "get_anomaly",
    "affected_channels",
    "summary",
    "list_anomalies",
    "list_channels",
)
#: Words that ask for anomalies (they turn a channel question into "which channels had ...").
ANOMALY_WORDS = frozenset(
    w for w, weight in INTENT_WORDS["list_anomalies"].items() if weight >= 1.5
)
CHANNEL_WORDS = frozenset({"channel", "channels", "canal", "canaux", "voie", "voies"})
SATELLITE_WORDS = frozenset({"satellite", "satellites", "sat", "sats", "spacecraft"})
END_WORDS = frozenset(
    {"end", "ended", "stop", "stopped", "finish", "finished", "fini", "termine", "fin"}
)
PRONOUNS = frozenset({"it", "this", "that", "its", "ca", "cela", "celle", "celui", "elle"})

#: Phrases naming an anomaly kind; the first kind with a phrase in the question wins.
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "spike": ("spike", "spikes", "pic", "pics"),
    "level_shift": (
        "level shift",
        "level shifts",
        "shift",
        "shifts",
        "jump",
        "jumps",
        "saut",
        "sauts",
        "changement de niveau",
        "decalage",
    ),
    "variance_change": ("variance", "noisy", "bruit", "bruitee", "bruite"),
    "trend_change": ("trend", "drift", "drifts", "tendance", "derive", "derives"),
    "flatline": ("flatline", "flatlines", "flat", "stuck", "frozen", "fige", "figee", "bloque"),
    "gap": ("gap", "gaps", "outage", "outages", "trou", "trous", "coupure", "coupures"),
    "pattern": ("pattern", "patterns", "discord", "discords", "motif", "motifs"),
}
#: Phrases asking for a minimum severity; the first matching severity wins.
SEVERITY_WORDS: dict[str, tuple[str, ...]] = {
    "critical": ("critical", "critique", "critiques"),
    "high": (
        "high severity",
        "severe",
        "serious",
        "major",
        "high",
        "grave",
        "graves",
        "majeure",
        "majeures",
        "elevee",
        "elevees",
    ),
    "medium": ("medium", "moyenne", "moyennes", "moderee"),
}
#: French words of telemetry mapped to the English words of channel names and descriptions.
GLOSSARY: dict[str, str] = {
    "tension": "voltage",
    "courant": "current",
    "temperature": "temperature",
    "temperatures": "temperature",
    "roue": "wheel",
    "roues": "wheel",
    "vitesse": "speed",
    "batterie": "battery",
    "panneau": "panel",
    "panneaux": "panel",
    "solaire": "solar",
    "solaires": "solar",
    "puissance": "power",
    "alimentation": "power",
    "reaction": "reaction",
}
STOPWORDS = frozenset(
    """a an the and or of on in at to for from by with about is are was were be been did
    do does has have had it its this that these those there what which who whom whose
    where how any all some me my our us we you your i please can could would should will
    tell give show list get find see happen happened happening occur occurred go going
    went anything something there here now then than since between during until till
    today yesterday last past previous next ago hour hours day days week weeks month
    months year years minute minutes time times same other also just only still ever
    again more most many much very up down out over under new old first second
    satellite satellites sat sats channel channels sensor sensors data telemetry
    ongoing open else case why when like into let know need want look looks whether
    not no yes both each every been being okay ok hello hi thanks thank right
    le la les un une des du de d l au aux et ou sur dans par pour avec sans en est sont
    a ete etait y il elle ils on nous vous je me moi mon ma mes ce cet cette ces qui que
    quoi quel quelle quels quelles quand comment ya t s n ne pas plus moins tout tous
    toute toutes hier aujourd hui depuis entre derniere dernier dernieres derniers
    semaine mois annee heure heures jour jours minutes il ya donne donner montre
    moi peux pouvez est-ce chez leur leurs son sa ses eu fait ont avait avaient""".split()
)


#: Words (folded) that mark a question as French or as English; the language with more
#: of them wins. Words common to both languages ("a", "on", "anomalies") are in neither.
FRENCH_MARKERS = frozenset(
    "quelles quelle quels quel quand pourquoi combien comment est sont ete etait les des "
    "du la le et de depuis hier aujourd avant hier demain dernier derniere derniers "
    "dernieres semaine mois jour jours heure heures entre pendant canal canaux voie voies "
    "etat sante montre montrez montre-moi trace tracer graphique expliquer explique "
    "explication il elle y ont une un que qui quoi en au aux avec pour par moins plus ce "
    "cette ces son sa ses nous vous je tension courant roue panneau batterie chute saut "
    "pic anomalie derive bonne sur arrive survenu survenues probleme problemes "
    "panne pannes lister liste affiche afficher donne donner".split()
)
ENGLISH_MARKERS = frozenset(
    "the which what when why how of is are was were did does do last show me and any "
    "list explain anomaly yesterday today since between during many much most least plot "
    "status healthy happened right now channel channels week month day days hour hours "
    "to for with from voltage current wheel battery panel temperature drop jump spike "
    "has have there been it its this that these those give tell about affected "
    "summary detect".split()
)


def language(words: list[str]) -> str | None:
    """``"fr"`` or ``"en"`` for a question's folded words, or None when nothing tells."""
    french = sum(1 for w in words if w in FRENCH_MARKERS)
    english = sum(1 for w in words if w in ENGLISH_MARKERS)
    if french == english:
        return None
    return "fr" if french > english else "en"
