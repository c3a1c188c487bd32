"""Tests for ingestion.files: formats, layouts, time handling and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ingestion.errors import (
    EmptyFileError,
    InvalidOptionError,
    MissingTimeError,
    TelemetryFileError,
    UnsupportedFormatError,
)
from ingestion.files import ParsedFile, read_telemetry

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if not DATA.is_dir():
    DATA = Path("/work/shared/data")
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data folder not present")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def only_error(parsed: ParsedFile) -> str:
    assert len(parsed.errors) == 1, parsed.errors
    return str(parsed.errors[0])


# --- whole-file errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("empty.csv", "", "empty"),
        ("header_only.csv", "timestamp,value\n", "no data rows"),
        ("blank_rows.csv", "timestamp,value\n\n\n", "no data rows"),
        ("empty.txt", "  \n\n", "empty"),
    ],
)
def test_empty_file_raises_clear_error(tmp_path: Path, name: str, text: str, reason: str) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(EmptyFileError, match=reason) as info:
        read_telemetry(path)
    assert name in str(info.value)


def test_unknown_extension_lists_supported_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "data.xlsx", "x")
    with pytest.raises(UnsupportedFormatError, match=r"\.xlsx.*\.csv.*\.npy.*\.parquet"):
        read_telemetry(path)


def test_csv_without_time_column_asks_for_time_column_or_start(tmp_path: Path) -> None:
    path = write(tmp_path, "no_time.csv", "alpha,beta\n1,2\n3,4\n")
    with pytest.raises(MissingTimeError) as info:
        read_telemetry(path)
    message = str(info.value)
    assert "no time column found (looked for timestamp, time" in message
    assert "pass --time-column or --start/--cadence" in message


def test_csv_without_time_column_uses_start_and_cadence(tmp_path: Path) -> None:
    path = write(tmp_path, "no_time.csv", "alpha,beta\n1,2\n3,4\n")
    parsed = read_telemetry(path, start="2024-01-01T00:00:00Z", cadence="5s")
    assert parsed.layout == "index"
    assert parsed.channels == ["alpha", "beta"]
    assert parsed.points["ts"].max() == utc("2024-01-01 00:00:05")


@pytest.mark.parametrize("suffix", [".npy", ".txt"])
def test_index_only_files_need_start_and_cadence(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"series{suffix}"
    if suffix == ".npy":
        np.save(path, np.arange(5.0))
    else:
        path.write_text("1\n2\n3\n")
    with pytest.raises(MissingTimeError, match="pass --start and --cadence"):
        read_telemetry(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
        ({"time_unit": "minutes"}, "time_unit must be one of s, ms, us, ns"),
        ({"start": "2024-01-01"}, "pass both --start and --cadence"),
        ({"start": "yesterday-ish", "cadence": "1min"}, "start must be an ISO 8601 time"),
        ({"start": "2024-01-01", "cadence": "1M"}, "cadence must be a fixed step"),
        ({"start": "2024-03-31 02:30", "cadence": "1s", "tz": "Europe/Paris"}, "DST change"),
    ],
)
def test_invalid_options_raise_clear_error(
    tmp_path: Path, options: dict[str, str], message: str
) -> None:
    path = write(tmp_path, "values.txt", "1 2 3\n")
    with pytest.raises(InvalidOptionError, match=message) as info:
        read_telemetry(path, **options)  # type: ignore[arg-type]
    assert isinstance(info.value, TelemetryFileError)  # callers catch one exception type
    assert "values.txt" in str(info.value)


def test_unknown_time_column_names_the_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "when,value\n2024-01-01,1\n")
    with pytest.raises(TelemetryFileError, match="time column 'clock' not found; columns: when"):
        read_telemetry(path, time_column="clock")


# --- bad records: kept out, reported, the rest kept ----------------------------------------


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("abc", "value is not a number"),
        ("nan", "value is NaN"),
        ("inf", "value is infinite"),
        ("-inf", "value is infinite"),
        ("", "value is missing"),
    ],
)
def test_bad_value_is_row_error_and_good_rows_kept(tmp_path: Path, cell: str, reason: str) -> None:
    text = f"timestamp,value\n2024-01-01 00:00:00,1.5\n2024-01-01 00:01:00,{cell}\n"
    text += "2024-01-01 00:02:00,2.5\n"
    parsed = read_telemetry(write(tmp_path, "v.csv", text))

    assert parsed.points["value"].tolist() == [1.5, 2.5]
    error = parsed.errors[0]
    assert (error.row, error.field) == (2, "value")
    assert reason in only_error(parsed)
    assert "row 2, field 'value'" in str(error)


@pytest.mark.parametrize(
    ("cell", "reason"),
    [
        ("not-a-date", "timestamp could not be parsed"),
        ("1969-12-31 23:59:59", "timestamp out of range"),
        ("2150-06-01 00:00:00", "timestamp out of range"),
        ("3000-01-01 00:00:00", "timestamp out of range"),
        ("", "timestamp is missing"),
    ],
)
def test_bad_timestamp_is_row_error_and_good_rows_kept(
    tmp_path: Path, cell: str, reason: str
) -> None:
    text = f"timestamp,value\n2024-01-01 00:00:00,1\n{cell},2\n2024-01-01 00:02:00,3\n"
    parsed = read_telemetry(write(tmp_path, "t.csv", text))

    assert parsed.points["value"].tolist() == [1.0, 3.0]
    assert (parsed.errors[0].row, parsed.errors[0].field) == (2, "timestamp")
    assert reason in only_error(parsed)


def test_row_numbers_count_blank_lines(tmp_path: Path) -> None:
    text = "timestamp,value\n2024-01-01 00:00:00,1\n\n2024-01-01 00:02:00,oops\n"
    parsed = read_telemetry(write(tmp_path, "blank.csv", text))
    assert parsed.errors[0].row == 3
    assert parsed.rows_read == 2


def test_errors_are_capped_but_all_counted(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-01 00:0{i}:00,bad\n" for i in range(5))
    parsed = read_telemetry(write(tmp_path, "many.csv", "ts,value\n" + rows), max_errors=2)
    assert (len(parsed.errors), parsed.error_count, len(parsed.points)) == (2, 5, 0)


def test_duplicate_timestamps_keep_first_finite_value(tmp_path: Path) -> None:
    text = (
        "timestamp,value\n"
        "2024-01-01 00:00:00,1\n"
        "2024-01-01 00:00:00,2\n"
        "2024-01-01 00:01:00,nan\n"
        "2024-01-01 00:01:00,3\n"
        "2024-01-01 00:01:00,4\n"
    )
    parsed = read_telemetry(write(tmp_path, "dup.csv", text))

    assert parsed.points["value"].tolist() == [1.0, 3.0]
    assert parsed.duplicates_dropped == 2
    assert parsed.errors[0].row == 3


def test_unsorted_rows_are_sorted_and_counted(tmp_path: Path) -> None:
    text = "timestamp,value\n2024-01-01 00:02:00,3\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n"
    parsed = read_telemetry(write(tmp_path, "unsorted.csv", text))

    assert parsed.points["value"].tolist() == [1.0, 2.0, 3.0]
    assert parsed.points["ts"].is_monotonic_increasing
    assert parsed.out_of_order == 1


# --- time zones and epochs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "reason"),
    [
        ("2024-03-31 02:30:00", "does not exist in Europe/Paris"),
        ("2024-10-27 02:30:00", "is ambiguous in Europe/Paris"),
    ],
)
def test_dst_invalid_local_time_is_row_error_not_shifted(
    tmp_path: Path, local: str, reason: str
) -> None:
    text = f"timestamp,value\n2024-03-31 01:30:00,1\n{local},2\n2024-10-27 03:30:00,3\n"
    parsed = read_telemetry(write(tmp_path, "dst.csv", text), tz="Europe/Paris")

    assert parsed.points["ts"].tolist() == [utc("2024-03-31 00:30"), utc("2024-10-27 02:30")]
    assert (parsed.errors[0].row, parsed.errors[0].field) == (2, "timestamp")
    assert reason in only_error(parsed)


@pytest.mark.parametrize(
    ("cell", "tz", "expected"),
    [
        ("2024-01-15 12:00:00", None, "2024-01-15 12:00"),
        ("2024-01-15 12:00:00", "Europe/Paris", "2024-01-15 11:00"),
        ("2024-07-15T12:00:00", "America/New_York", "2024-07-15 16:00"),
        ("2024-01-15T12:00:00Z", "Europe/Paris", "2024-01-15 12:00"),
        ("2024-01-15T12:00:00+02:00", None, "2024-01-15 10:00"),
        ("2024-01-15 12:00:00.250-0530", None, "2024-01-15 17:30:00.250"),
    ],
)
def test_times_are_converted_to_utc(
    tmp_path: Path, cell: str, tz: str | None, expected: str
) -> None:
    parsed = read_telemetry(write(tmp_path, "tz.csv", f"time,value\n{cell},1\n"), tz=tz)
    assert parsed.points["ts"].tolist() == [utc(expected)]
    assert str(parsed.points["ts"].dtype) == "datetime64[ns, UTC]"


@pytest.mark.parametrize(
    ("epoch", "unit"),
    [
        ("1704067200", None),
        ("1704067200.5", None),
        ("1704067200000", None),
        ("1704067200000000", None),
        ("1704067200000000000", None),
        ("1704067200000", "ms"),
        ("1704067200", "s"),
    ],
)
def test_epoch_unit_is_detected_from_magnitude(
    tmp_path: Path, epoch: str, unit: str | None
) -> None:
    parsed = read_telemetry(write(tmp_path, "e.csv", f"epoch,value\n{epoch},1\n"), time_unit=unit)
    assert parsed.points["ts"].dt.floor("s").tolist() == [utc("2024-01-01")]


def test_forced_epoch_unit_overrides_detection(tmp_path: Path) -> None:
    parsed = read_telemetry(write(tmp_path, "e.csv", "ts,value\n86400000,1\n"), time_unit="ms")
    assert parsed.points["ts"].tolist() == [utc("1970-01-02")]


def test_epoch_out_of_range_is_row_error(tmp_path: Path) -> None:
    text = "ts,value\n1704067200,1\n-5,2\n9999999999,3\n"
    parsed = read_telemetry(write(tmp_path, "e.csv", text))
    assert len(parsed.points) == 1
    assert [e.row for e in parsed.errors] == [2, 3]
    assert all("out of range" in e.reason for e in parsed.errors)


# --- layouts and formats -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "layout", "channels"),
    [
        ("timestamp,channel,value\n2024-01-01,a,1\n2024-01-01,b,2\n", "long", ["a", "b"]),
        ("time;metric;reading\n2024-01-01;x;1\n2024-01-02;x;2\n", "long", ["x"]),
        ("ts,sensor,v\n2024-01-01,t1,1\n", "long", ["t1"]),
        ("timestamp,temp,volt\n2024-01-01,1,2\n2024-01-02,3,4\n", "wide", ["temp", "volt"]),
        ("when\tload\tnote\n2024-01-01 00:00\t1\tok\n", "wide", ["load"]),
        ("timestamp,value\n2024-01-01,1\n", "wide", ["value"]),
    ],
)
def test_layout_is_detected(tmp_path: Path, text: str, layout: str, channels: list[str]) -> None:
    parsed = read_telemetry(write(tmp_path, "layout.csv", text))
    assert (parsed.layout, parsed.channels) == (layout, channels)
    assert list(parsed.points.columns) == ["ts", "channel", "value"]


def test_long_layout_sorts_by_channel_then_time(tmp_path: Path) -> None:
    text = (
        "timestamp,channel,value\n2024-01-02,b,4\n2024-01-01,b,3\n2024-01-02,a,2\n2024-01-01,a,1\n"
    )
    parsed = read_telemetry(write(tmp_path, "long.csv", text))
    assert parsed.points["value"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert parsed.points["channel"].tolist() == ["a", "a", "b", "b"]


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_parquet_round_trip(tmp_path: Path, layout: str) -> None:
    ts = pd.date_range("2024-01-01", periods=4, freq="1min", tz="UTC")
    if layout == "long":
        frame = pd.DataFrame({"ts": ts.repeat(2), "channel": ["a", "b"] * 4})
        frame["value"] = np.arange(8.0)
    else:
        frame = pd.DataFrame({"timestamp": ts, "a": np.arange(4.0), "b": np.arange(4.0) * 10})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path)

    parsed = read_telemetry(path)

    assert (parsed.format, parsed.layout, parsed.channels) == ("parquet", layout, ["a", "b"])
    a = parsed.points[parsed.points["channel"] == "a"]
    assert a["ts"].tolist() == list(ts)
    assert str(parsed.points["ts"].dtype) == "datetime64[ns, UTC]"


def test_parquet_nan_and_naive_times(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"time": pd.date_range("2024-01-01", periods=3, freq="1h"), "v": [1.0, np.nan, np.inf]}
    )
    path = tmp_path / "naive.parquet"
    frame.to_parquet(path)
    parsed = read_telemetry(path, tz="Europe/Paris")
    assert parsed.points["ts"].tolist() == [utc("2023-12-31 23:00")]
    assert [(e.row, e.field) for e in parsed.errors] == [(2, "v"), (3, "v")]


@pytest.mark.parametrize(
    ("array", "options", "channels"),
    [
        (np.arange(6.0), {}, ["value"]),
        (np.arange(12.0).reshape(6, 2), {}, ["col0", "col1"]),
        (np.arange(12.0).reshape(6, 2), {"columns": [1]}, ["col1"]),
        (np.arange(12.0).reshape(6, 2), {"channel_names": ["v", "i"]}, ["i", "v"]),
        (np.arange(6.0).reshape(6, 1), {}, ["value"]),
    ],
)
def test_npy_with_start_and_cadence(
    tmp_path: Path, array: np.ndarray, options: dict[str, object], channels: list[str]
) -> None:
    path = tmp_path / "a.npy"
    np.save(path, array)
    parsed = read_telemetry(
        path,
        start="2024-01-01T00:00",
        cadence="1min",
        **options,  # type: ignore[arg-type]
    )

    assert (parsed.layout, parsed.channels, parsed.rows_read) == ("index", channels, 6)
    first = parsed.points[parsed.points["channel"] == channels[0]]
    assert first["ts"].tolist() == list(
        pd.date_range("2024-01-01", periods=6, freq="1min", tz="UTC")
    )


def test_txt_with_start_cadence_and_bad_token(tmp_path: Path) -> None:
    path = write(tmp_path, "s.txt", "1.0\n2.0 3.0\r\nx\n5e0\n")
    parsed = read_telemetry(path, start="2024-01-01T00:00:00+01:00", cadence="10")

    assert parsed.points["value"].tolist() == [1.0, 2.0, 3.0, 5.0]
    assert parsed.points["ts"].iloc[-1] == utc("2023-12-31 23:00:40")
    assert (parsed.errors[0].row, parsed.errors[0].field) == (4, "value")


# --- real data -----------------------------------------------------------------------------


def _manifest(dataset: str) -> list[dict[str, object]]:
    entries = json.loads((DATA / "manifest.json").read_text())
    return [e for e in entries if e["dataset"] == dataset]


NAB_PATHS = [str(e["path"]) for e in _manifest("nab")] if DATA.is_dir() else []


@needs_data
@pytest.mark.parametrize("rel", NAB_PATHS)
def test_real_nab_csv_parses_as_one_wide_channel(rel: str) -> None:
    path = DATA / rel
    rows = len([line for line in path.read_text().splitlines() if line.strip()]) - 1
    parsed = read_telemetry(path)

    assert (parsed.layout, parsed.channels, parsed.error_count) == ("wide", ["value"], 0)
    assert parsed.rows_read == rows
    assert len(parsed.points) == rows - parsed.duplicates_dropped


@needs_data
def test_real_nab_duplicates_and_disorder_are_counted() -> None:
    path = DATA / "nab/data/realKnownCause/machine_temperature_system_failure.csv"
    parsed = read_telemetry(path)
    assert (parsed.rows_read, parsed.duplicates_dropped, len(parsed.points)) == (22695, 12, 22683)
    assert parsed.out_of_order > 0
    assert parsed.points["ts"].is_monotonic_increasing


@needs_data
@pytest.mark.parametrize(("columns", "points"), [(None, 8505 * 25), ([0], 8505)])
def test_real_smap_npy_parses_as_index_only(columns: list[int] | None, points: int) -> None:
    path = DATA / "smap_msl/test/P-1.npy"
    with pytest.raises(MissingTimeError):
        read_telemetry(path)
    parsed = read_telemetry(path, start="2024-01-01", cadence="1min", columns=columns)
    assert (parsed.layout, parsed.rows_read, len(parsed.points)) == ("index", 8505, points)


@needs_data
def test_real_ucr_txt_parses() -> None:
    path = DATA / "ucr_anomaly_2021/135_UCR_Anomaly_InternalBleeding16_1200_4187_4199.txt"
    parsed = read_telemetry(path, start="2024-01-01", cadence="1s")
    assert parsed.rows_read == len(parsed.points) == len(path.read_text().split())


def test_parquet_columns_of_unsupported_types_are_reported_not_silently_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "mixed.parquet"
    pd.DataFrame(
        {
            "time": pd.date_range("2026-01-01", periods=4, freq="1min", tz="UTC"),
            "temp": [1.0, 2.0, 3.0, 4.0],
            "mode": ["SAFE", "NOMINAL", "NOMINAL", "SAFE"],
            "samples": [[1, 2], [3], [], [4]],
        }
    ).to_parquet(path)
    parsed = read_telemetry(path)
    assert parsed.channels == ["temp"]
    assert parsed.ignored_columns == ["mode", "samples"]
    assert "non-numeric columns ignored: mode, samples" in parsed.summary()
