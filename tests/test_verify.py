"""verify_record: how bag defects are reported (the end-to-end checks are in test_cli)."""

from __future__ import annotations

from pathlib import Path

from onestop_docs.integrity import Manifest
from onestop_docs.verify import verify_record


def test_bag_problems_are_reported_as_sentences_not_file_names(tmp_path: Path) -> None:
    """Regression: BagReport.problems are sentences; they were listed as "problems file ..."."""
    rec = tmp_path / "rec"
    (rec / "data").mkdir(parents=True)
    (rec / "data" / "a.txt").write_text("x", encoding="utf-8")
    Manifest.create(rec)
    manifest = rec / "manifest-sha256.txt"
    manifest.write_text(manifest.read_text() + "0" * 64 + "  ../outside.txt\n", encoding="utf-8")
    (rec / "data" / "a.txt").write_text("y", encoding="utf-8")
    bag = Manifest.validate(rec)
    problems = verify_record(rec).problems
    assert "bag: altered file data/a.txt" in problems
    assert "bag: altered file manifest-sha256.txt" in problems
    assert bag.problems and [f"bag: {p}" for p in bag.problems] == [
        p for p in problems if "unsafe path" in p
    ]
    assert not any("problems file" in p for p in problems)
