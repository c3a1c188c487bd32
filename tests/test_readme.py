"""The README documents every setting."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_listed_in_the_readme() -> None:
    text = README.read_text()
    missing = [name for name in Settings.model_fields if f"IMON_{name.upper()}" not in text]
    assert missing == []


def test_readme_gives_the_two_setup_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text
