"""The sources file and the channel names of KairosDB series."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.errors import SourceConfigError
from ingestion.series_names import channel_name, parse_channel_name
from ingestion.sources import load_sources_file, resolve_sources_file

EXAMPLE = """
[[sources]]
type = "kairosdb"
name = "skyminer"
url = "http://127.0.0.1:8080/"
metrics = ["SCH.M1", "SCH.M15"]
tags = { satellite = ["SAT1", "SAT2"], unit = "V" }
interval_s = 30
chunk_hours = 6
overlap_s = 120
start = 2024-05-01T00:00:00Z
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_file_is_parsed_and_tag_lists_expand_into_series(tmp_path: Path) -> None:
    [config] = load_sources_file(_write(tmp_path, EXAMPLE))

    assert config.name == "skyminer" and config.url == "http://127.0.0.1:8080"
    assert (config.interval_s, config.chunk_hours, config.overlap_s) == (30.0, 6.0, 120.0)
    assert config.start == datetime(2024, 5, 1, tzinfo=UTC)
    assert [(s.metric, s.tag_dict) for s in config.series] == [
        ("SCH.M1", {"satellite": "SAT1", "unit": "V"}),
        ("SCH.M1", {"satellite": "SAT2", "unit": "V"}),
        ("SCH.M15", {"satellite": "SAT1", "unit": "V"}),
        ("SCH.M15", {"satellite": "SAT2", "unit": "V"}),
    ]
    assert [config.satellite_of(s) for s in config.series[:2]] == ["SAT1", "SAT2"]


def test_configured_satellite_name_replaces_the_tag(tmp_path: Path) -> None:
    text = EXAMPLE.replace(
        'tags = { satellite = ["SAT1", "SAT2"], unit = "V" }', 'satellite = "S"'
    )

    [config] = load_sources_file(_write(tmp_path, text))

    assert {config.satellite_of(s) for s in config.series} == {"S"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('url = "http://127.0.0.1:8080/"\n', "", r"sources\[0\]: url: missing"),
        (
            "chunk_hours = 6",
            'chunk_hours = "six"',
            r"sources\[0\]: chunk_hours: expected a number",
        ),
        ("chunk_hours = 6", "chunk_hours = 0", r"chunk_hours: expected a number in \(0"),
        ("interval_s = 30", "intervall_s = 30", r"intervall_s: unknown key"),
        ('type = "kairosdb"', 'type = "graphite"', r"type: expected one of \('kairosdb',\)"),
        (
            "start = 2024-05-01T00:00:00Z",
            "start = 2024-05-01T00:00:00",
            r"start: has no time zone",
        ),
        ('satellite = ["SAT1", "SAT2"], ', "", r"tags.satellite: missing"),
        ("metrics = [", "metrics = [1, ", r"metrics\[0\]: expected a non-empty string"),
        ('url = "http://127', 'url = "ftp://127', r"url: expected http:// or https://"),
        ("overlap_s = 120", "overlap_s = 120\nretries = -1", r"retries: expected an integer"),
        ("[[sources]]", "[[sources]\n", r"not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in EXAMPLE
    path = _write(tmp_path, EXAMPLE.replace(old, new, 1))

    with pytest.raises(SourceConfigError, match=message) as caught:
        load_sources_file(path)
    assert str(path) in str(caught.value)


def test_repeated_source_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceConfigError, match=r"sources\[1\].*name: 'skyminer' repeated"):
        load_sources_file(_write(tmp_path, EXAMPLE + EXAMPLE))


def test_sources_file_defaults_to_sources_toml_in_the_working_dir(tmp_path: Path) -> None:
    assert resolve_sources_file(None, tmp_path) is None
    path = _write(tmp_path, EXAMPLE)
    assert resolve_sources_file(None, tmp_path) == path
    with pytest.raises(SourceConfigError, match="IMON_SOURCES_FILE: no such file"):
        resolve_sources_file(tmp_path / "missing.toml", tmp_path)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"satellite": "SAT2"}, "SCH.M1"),
        ({"satellite": "SAT2", "unit": "V", "mode": "safe"}, "SCH.M1{mode=safe,unit=V}"),
        ({"label": "a,b", "x": 'q"uote'}, 'SCH.M1{label="a,b",x="q\\"uote"}'),
        ({"loc": "deck 2: (aft)", "pad": " edge "}, 'SCH.M1{loc=deck 2: (aft),pad=" edge "}'),
        ({"k=v": "{}"}, 'SCH.M1{"k=v"="{}"}'),
    ],
)
def test_channel_names_are_readable_and_parse_back(tags: dict[str, str], expected: str) -> None:
    name = channel_name("SCH.M1", tags)

    assert name == expected
    rest = {k: v for k, v in tags.items() if k != "satellite"}
    assert parse_channel_name(name) == ("SCH.M1", rest)


@pytest.mark.parametrize("name", ["bus_voltage", "odd{name", "x{=}", "{a=b}"])
def test_names_that_are_not_metric_and_tags_are_whole_metrics(name: str) -> None:
    assert parse_channel_name(name) == (name, {})
