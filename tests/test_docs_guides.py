"""The operator and integrator guides stay true to the code they describe.

``tests/test_docs.py`` runs their examples; these tests check what running cannot: that the
station config the operator guide shows is one the real loader accepts, and that the
integrator guide names every public error type.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from onestop_docs import errors
from onestop_docs.errors import InvalidArgumentError
from onestop_docs.pipeline import DigitizeOptions
from onestop_docs.station import CONFIG_SCHEMA, load_station_config

DOCS = Path(__file__).resolve().parent.parent / "docs"
TOML_BLOCK = re.compile(r"^```toml\n(?P<body>.*?)^```", re.S | re.M)


def _station_configs() -> list[str]:
    text = (DOCS / "operator-guide.md").read_text(encoding="utf-8")
    return [m["body"] for m in TOML_BLOCK.finditer(text)]


def test_operator_guide_config_loads_with_the_station_loader(tmp_path: Path) -> None:
    configs = _station_configs()
    assert configs, "docs/operator-guide.md shows a station.toml"
    for i, body in enumerate(configs):
        path = tmp_path / f"station-{i}.toml"
        path.write_text(body, encoding="utf-8")
        cfg = load_station_config(path)
        # "complete": every section of the schema appears
        assert set(cfg) == set(CONFIG_SCHEMA), set(CONFIG_SCHEMA) - set(cfg)
        # and [options] builds the options the station runs with
        options = DigitizeOptions(**cfg["options"])
        for key, value in cfg["options"].items():
            got = getattr(options, key)
            assert got == value or tuple(got) == tuple(value), key


def test_the_loader_check_can_fail(tmp_path: Path) -> None:
    # The same check on a config the loader must refuse: a key of [options] put in [station].
    body = _station_configs()[0].replace("[station]\n", "[station]\njpeg_quality = 80\n", 1)
    path = tmp_path / "bad.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match="jpeg_quality"):
        load_station_config(path)


def test_integrator_guide_names_every_error_type() -> None:
    text = (DOCS / "integrator-guide.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(\w+)` \|", text, re.M))
    public = set(errors.__all__)
    assert public, "errors.__all__ lists the public error types"
    assert not public - rows, f"no row in docs/integrator-guide.md for {sorted(public - rows)}"


def test_integrator_guide_error_bases_are_the_code_s() -> None:
    # The "base" column names the direct bases (OnestopError left out when it is not the only one).
    text = (DOCS / "integrator-guide.md").read_text(encoding="utf-8")
    wrong = []
    for name, base in re.findall(r"^\| `(\w+)` \| ([^|]+) \|", text, re.M):
        cls = getattr(errors, name, None)
        if cls is None or not isinstance(cls, type):
            continue  # a type of a module not installed in this build
        shown = set(re.findall(r"`(\w+)`", base))
        bases = {b.__name__ for b in cls.__bases__}
        expected = bases - {"OnestopError"} or bases
        if shown != expected:
            wrong.append(f"{name}: page {sorted(shown)}, code {sorted(expected)}")
    assert not wrong, wrong
