"""atomic_dir's ``keep`` option: a complete folder placed first by a concurrent writer stays."""

from __future__ import annotations

from pathlib import Path

from stance.atomic import atomic_dir


def _complete(folder: Path) -> bool:
    return (folder / "done").is_file()


def test_keep_leaves_a_complete_folder_and_drops_the_new_one(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.mkdir()
    (final / "done").write_text("first")
    with atomic_dir(final, keep=_complete) as tmp:
        (tmp / "done").write_text("second")
    assert (final / "done").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_keep_replaces_an_incomplete_folder_and_fills_a_missing_one(tmp_path: Path) -> None:
    final = tmp_path / "out"
    final.mkdir()
    (final / "partial").write_text("x")
    with atomic_dir(final, keep=_complete) as tmp:
        (tmp / "done").write_text("new")
    assert sorted(p.name for p in final.iterdir()) == ["done"]
    fresh = tmp_path / "sub" / "fresh"
    with atomic_dir(fresh, keep=_complete) as tmp:
        (tmp / "done").write_text("new")
    assert (fresh / "done").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "sub"]
