"""Output folders: one writer at a time, no half-written files, nothing left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import LOCK_FILE, TMP_PREFIX, atomic_path, output_dir
from tests.conftest import MODELS, assert_user_error, run_cli


def test_second_writer_is_refused_while_the_first_holds_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    with output_dir(out, force=False, what="benchmark"):
        with (
            pytest.raises(UserError, match="another mnist-edge run is writing"),
            output_dir(out, force=True, what="benchmark"),
        ):
            pass
        # And from another process, through the real command.
        r = run_cli(
            "bench",
            "--models",
            str(MODELS / "edge-int8.tflite"),
            "--out",
            str(out),
            "--force",
            "--limit",
            "10",
            timeout=120,
        )
        assert_user_error(r, "another mnist-edge run is writing")
    assert not (out / LOCK_FILE).exists()


def test_stale_temporary_files_are_removed_and_failures_leave_nothing(tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / f"{TMP_PREFIX}edge-int8.x.tflite").write_bytes(b"half")  # a SIGKILLed export's
    with output_dir(out, force=True, what="export"):
        assert not list(out.glob(f"{TMP_PREFIX}*"))
    fresh = tmp_path / "a" / "b" / "run"
    with pytest.raises(RuntimeError), output_dir(fresh, force=False, what="training"):
        raise RuntimeError("failed before writing anything")
    assert not (tmp_path / "a").exists()  # the folders it created are gone again


def test_atomic_path_publishes_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "m.json"
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise ValueError("converter failed")
    assert not target.exists() and not list(tmp_path.iterdir())


def test_killed_writer_leaves_no_published_file(tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    code = (
        "import os, signal\nfrom mnist_edge.core.fsutil import atomic_path\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_text('{\"half\":')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    subprocess.run([sys.executable, "-c", code], timeout=60)
    assert not target.exists()
    with output_dir(tmp_path, force=True):  # the next run in that folder sweeps the leftover
        pass
    assert not list(tmp_path.iterdir())
