"""Atomic writes: the output appears complete or not at all."""

from __future__ import annotations

import pytest

from pyjama_tools.core.atomic import atomic_path, partial_path, write_text_atomic


def test_success_renames_the_temporary_file(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        assert tmp == partial_path(target) == tmp_path / ".out.txt.partial"
        tmp.write_text("new")
        assert not target.exists()  # nothing under the final name until the block ends
    assert target.read_text() == "new" and not tmp.exists()


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_failure_keeps_the_previous_file_and_leaves_no_partial(tmp_path, error):
    target = tmp_path / "out.txt"
    write_text_atomic("old", target)
    with pytest.raises(error):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise error()
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
