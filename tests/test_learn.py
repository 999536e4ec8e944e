"""On-device learning: profiles on disk (every fault), the combination rule, the headless
simulation through the real app. No TensorFlow, no MNIST: the shipped models and drawn strokes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mnist_edge.edge_app.learn import Learner
from mnist_edge.edge_app.profile_files import MAX_CORRECTIONS, ProfileError, check_name
from mnist_edge.ink.strokes import Sample, save_samples
from tests.conftest import MODELS, assert_user_error, blocked_imports_env, run_cli

DIM = 16
SHA = "a" * 64


def _vec(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=DIM).astype(np.float32)


def _saved(tmp_path: Path, count: int = 3) -> tuple[Learner, Path]:
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None
    for i in range(count):
        assert learner.add(_vec(i), i % 10)
    assert learner.save() is None
    assert learner.path is not None
    return learner, learner.path


def test_profile_roundtrip_and_isolation_between_models(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    again, note = Learner.open("me", SHA, DIM, tmp_path)
    assert note is None and len(again) == 3 and again.labels.tolist() == [0, 1, 2]
    other, note = Learner.open("me", "b" * 64, DIM, tmp_path)  # another model's file
    assert len(other) == 0 and "another model" in note
    assert path.exists()  # the first model's corrections are kept


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "inconsistent", "huge"])
def test_broken_profiles_start_fresh_and_are_kept(tmp_path: Path, damage: str) -> None:
    _, path = _saved(tmp_path)
    content = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(content[: len(content) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a profile" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "inconsistent":
        np.savez(
            path.with_suffix(".tmp.npz"),
            header=np.frombuffer(
                json.dumps({"version": 1, "model_sha256": SHA}).encode(), np.uint8
            ),
            vectors=np.zeros((2, DIM)),
            labels=np.array([1, 99]),
            used=np.zeros(2),
        )
        path.with_suffix(".tmp.npz").replace(path)
    else:
        with open(path, "ab") as fh:
            fh.truncate(17 << 20)
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert len(learner) == 0 and note and "starting fresh" in note
    assert list(path.parent.glob("*.broken-*"))  # kept for inspection, not overwritten
    assert learner.add(_vec(9), 4) and learner.save() is None  # and learning goes on


def test_newer_profile_is_used_read_only(tmp_path: Path) -> None:
    _, path = _saved(tmp_path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["header"] = np.frombuffer(
        json.dumps({"version": 99, "model_sha256": SHA}).encode(), np.uint8
    )
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    before = path.read_bytes()
    learner, note = Learner.open("me", SHA, DIM, tmp_path)
    assert "newer" in note and not learner.writable
    assert learner.add(_vec(5), 5) and "not saved" in learner.save()
    assert path.read_bytes() == before  # never overwritten


def test_unwritable_profile_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    learner, _ = Learner.open("me", SHA, DIM, tmp_path / "file-not-folder" / "x")
    (tmp_path / "file-not-folder").write_text("a file where the folder should be")
    assert learner.add(_vec(1), 1)
    problem = learner.save()
    assert problem and "cannot save the profile" in problem and len(learner) == 1

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    ok, _ = Learner.open("you", SHA, DIM, tmp_path)
    ok.add(_vec(2), 2)
    monkeypatch.setattr("mnist_edge.core.fsutil.tempfile.mkstemp", full_disk)
    assert "No space left" in ok.save()
    assert not list((tmp_path / "you").glob("*.npz"))  # nothing half-written


def test_capacity_bound_and_bytes_per_correction(tmp_path: Path) -> None:
    learner, _ = Learner.open("many", SHA, 576, tmp_path)
    rng = np.random.default_rng(0)
    for i in range(MAX_CORRECTIONS + 40):  # many corrections in a row
        learner.add(rng.normal(size=576), i % 10)
    assert len(learner) == MAX_CORRECTIONS
    assert learner.save() is None
    size = learner.path.stat().st_size  # type: ignore[union-attr]
    assert size < 1_000_000, size  # 500 corrections stay under 1 MB
    assert learner.bytes_per_correction * MAX_CORRECTIONS < 1_000_000


def test_rule_needs_similarity_and_never_changes_unrelated_readings() -> None:
    learner = Learner(SHA, DIM)
    probs = np.full(10, 0.01, np.float32)
    probs[9] = 0.91
    looped_four = _vec(1)
    assert learner.add(looped_four, 4)
    near = learner.adjust(probs, looped_four + 0.01 * _vec(2))
    assert near.changed and int(near.probabilities.argmax()) == 4 and near.votes == 1
    unrelated = learner.adjust(probs, _vec(3))
    assert not unrelated.changed and np.array_equal(unrelated.probabilities, probs)
    blank = learner.adjust(probs, np.zeros(DIM))
    assert not blank.changed
    assert not learner.add(np.zeros(DIM), 4)  # an empty canvas teaches nothing
    assert learner.undo() and len(learner) == 0 and not learner.undo()


def test_simulation_counts_gain_misreads_and_repeats() -> None:
    """The benchmark's person: each misreading corrected, one profile per writer. Writer A's
    looped 4 is read as 9 three times: the first is corrected, the two repeats are then read
    right. Writer B draws the same 4 but has their own profile, so nothing carries over."""
    from mnist_edge.benchmarks.learning import simulate

    nine = np.full(10, 0.01, np.float32)
    nine[9] = 0.91
    loop = _vec(1)
    probs = np.stack([nine] * 5)
    embeddings = np.stack([loop, loop + 0.01 * _vec(2), loop, loop, _vec(3)])
    labels = np.array([4, 4, 4, 4, 9])
    writers = np.array(["A", "A", "A", "B", "B"])
    got = simulate(probs, embeddings, labels, writers)
    a, b = got["per_writer"]
    assert (a["misreads"], a["repeated_misreads"], a["corrections"]) == (3, 2, 1)
    assert (a["without"], a["with"], a["delta_samples"]) == (0, 2 / 3, 2)
    assert (b["misreads"], b["repeated_misreads"], b["delta_samples"]) == (1, 0, 0)
    assert (got["misreads"], got["repeated_misreads"], got["corrections"]) == (4, 2, 2)
    assert got["with"] - got["without"] == pytest.approx(2 / 5)
    assert got["worst_writer_delta_samples"] == 0


@pytest.mark.parametrize("name", ["../x", "", "a/b", ".hidden", "x" * 65, "x" * 5000])
def test_profile_names_are_checked(name: str) -> None:
    with pytest.raises(ProfileError) as raised:
        check_name(name)
    assert len(str(raised.value)) < 200  # a long name is echoed cut short


LINE = [(0.5, 0.15), (0.5, 0.5), (0.52, 0.85)]
LOOP = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7), (0.3, 0.3)]


def test_headless_learning_simulation(tmp_path: Path) -> None:
    """One writer's digit misread, corrected once, then read right: through the real app."""
    replay = tmp_path / "writer.json"
    # The model reads this loop as 0; this writer means 6 by it (every time).
    samples = [Sample([LOOP], 6, "ann")] * 3 + [Sample([LINE], 1, "ann"), Sample([LINE], 1, "bob")]
    save_samples(replay, samples)
    env = {
        "MNIST_EDGE_MODELS": str(MODELS),
        **blocked_imports_env(tmp_path, "tensorflow", "keras", "tf2onnx"),
    }
    r = run_cli("draw", "--headless", "--replay", str(replay), "--learn", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [row["model_digit"] for row in rows[:3]] == [0, 0, 0]
    assert [row["digit"] for row in rows[:3]] == [0, 6, 6]  # misread, corrected, learned
    assert rows[1]["learned"] and rows[3]["digit"] == 1 and not rows[3]["learned"]
    assert "learning: 40.00% without, 80.00% with (1 corrections, 2 writers)" in r.stderr
    plain = run_cli("draw", "--headless", "--replay", str(replay), env=env)
    assert [json.loads(x)["digit"] for x in plain.stdout.splitlines()][:3] == [0, 0, 0]


def test_profile_cli(tmp_path: Path) -> None:
    env = {"MNIST_EDGE_MODELS": str(MODELS), "MNIST_EDGE_PROFILES": str(tmp_path / "p")}
    assert_user_error(run_cli("draw", "--headless", "--profile", "../evil", env=env), "profile")
    r = run_cli("draw", "--headless", "--profile", "kiosk", "--reset-profile", env=env)
    assert r.returncode == 0 and "reset" in r.stderr, r.stderr[-2000:]
    r = run_cli("draw", "--headless", "--no-learn", env=env)
    assert r.returncode == 0, r.stderr[-2000:]
