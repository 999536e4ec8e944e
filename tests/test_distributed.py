"""``--strategy mirrored`` and ``--strategy multi-worker``, for real: two logical CPU devices in
one process, two worker processes on 127.0.0.1, one of them killed mid-training and both
restarted. The fast tests (TF_CONFIG, backup folders, who writes into --out) need no TensorFlow.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mnist_edge.core.errors import UserError
from mnist_edge.train import distributed, resume, workers
from tests.conftest import ROOT, TRAIN_ARTIFACTS, run_cli

ARTIFACTS = TRAIN_ARTIFACTS


def tf_config(ports: list[int], index: int, kind: str = "worker") -> str:
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})


# ----------------------------------------------------------------------------- fast


def test_worker_and_chief_from_tf_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert workers.worker() == workers.Task(None, 0, 1, True)  # a cluster of one
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 0))
    assert workers.worker() == workers.Task("worker", 0, 2, True)
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 1))
    assert workers.worker() == workers.Task("worker", 1, 2, False)
    with_chief = {"chief": ["h0:1"], "worker": ["h1:1", "h2:1"]}
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": with_chief, "task": {"type": "worker", "index": 0}})
    )
    assert not workers.worker().chief  # with a "chief" task, worker 0 is not the chief
    monkeypatch.setenv(
        "TF_CONFIG", json.dumps({"cluster": with_chief, "task": {"type": "chief", "index": 0}})
    )
    assert workers.worker() == workers.Task("chief", 0, 3, True)
    for bad in (tf_config([1, 2], 2), "{not json", json.dumps({"cluster": {}, "task": {}})):
        monkeypatch.setenv("TF_CONFIG", bad)
        with pytest.raises(UserError, match="TF_CONFIG"):
            workers.worker()


def test_logical_cpus_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(distributed.LOGICAL_CPUS_ENV, raising=False)
    assert distributed.logical_cpus() == 0
    monkeypatch.setenv(distributed.LOGICAL_CPUS_ENV, "2")
    assert distributed.logical_cpus() == 2
    for bad in ("two", "0", "-1", "65"):
        monkeypatch.setenv(distributed.LOGICAL_CPUS_ENV, bad)
        with pytest.raises(UserError, match=distributed.LOGICAL_CPUS_ENV):
            distributed.logical_cpus()


def test_backup_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(resume.BACKUP_ENV, raising=False)
    chief, other = workers.Task("worker", 0, 2, True), workers.Task("worker", 1, 2, False)
    out = str(tmp_path / "run")
    assert resume.backup_dir(out, chief) == tmp_path / "run" / "backup"
    elsewhere = resume.backup_dir(out, other)
    assert tmp_path / "run" not in elsewhere.parents and elsewhere.name == "worker-1"
    assert elsewhere == resume.backup_dir(out, other)  # the same after a restart
    assert resume.backup_epoch(elsewhere) == 0
    monkeypatch.setenv(resume.BACKUP_ENV, str(tmp_path / "b"))
    assert resume.backup_dir(out, other) == tmp_path / "b" / "worker-1"
    (tmp_path / "b" / "worker-1").mkdir(parents=True)
    (tmp_path / "b" / "worker-1" / resume.KERAS_METADATA).write_text('{"epoch": 2}')
    assert resume.backup_epoch(tmp_path / "b" / "worker-1") == 2


def test_only_the_chief_claims_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    out = tmp_path / "run"
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 1))
    with resume.worker_output_dir(str(out), force=False) as where:
        (where / "model.keras").write_text("not the chief's")
        assert out not in where.parents
    assert not out.exists() and not where.exists()  # its temporary folder is deleted
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 0))
    with resume.worker_output_dir(str(out), force=False) as where:
        assert where == out
        (where / "history.csv").write_text("epoch\n1\n")
    finished = resume.worker_output_dir(str(out), force=False)
    with pytest.raises(UserError, match="not empty"), finished:  # a finished run: not resumed
        pass
    (out / "backup").mkdir()
    (out / "backup" / resume.KERAS_METADATA).write_text('{"epoch": 1}')
    with resume.worker_output_dir(str(out), force=False) as where:  # an interrupted one is
        assert where == out


# ----------------------------------------------------------------------------- mirrored

SMALL = ["--limit", "3000", "--epochs", "2", "--augment", "none"]


@pytest.mark.slow
def test_mirrored_splits_the_global_batch() -> None:
    """Two logical CPUs, two replicas, each gets half of --batch-size."""
    probe = (
        "import numpy as np\n"
        "from mnist_edge.train.dataset import make_dataset\n"
        "from mnist_edge.train.trainer import _strategy\n"
        "s = _strategy('mirrored')\n"
        "x, y = np.zeros((300, 28, 28), np.uint8), np.arange(300) % 10\n"
        "ds = s.experimental_distribute_dataset(make_dataset(x, y, 32, 0, 'touch'))\n"
        "batch = next(iter(ds))\n"
        "print('REPLICAS', [tuple(v.shape) for v in s.experimental_local_results(batch[0])])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, distributed.LOGICAL_CPUS_ENV: "2"},
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "REPLICAS [(16, 28, 28, 1), (16, 28, 28, 1)]" in result.stdout, result.stdout


@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_matches_default(tmp_path: Path) -> None:
    """The same small run with one device and with two replicas: the same quality."""
    env = {**os.environ, distributed.LOGICAL_CPUS_ENV: "2"}
    env.pop("PYTHONPATH", None)
    runs = {
        strategy: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mnist_edge",
                "train",
                *SMALL,
                "--strategy",
                strategy,
                "--ema",  # like for like: weight averaging is off with the distributed ones
                "0",
                "--out",
                str(tmp_path / strategy),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for strategy in ("default", "mirrored")  # side by side: half the wall time
    }
    try:
        outputs = {name: proc.communicate(timeout=240) for name, proc in runs.items()}
    finally:
        for proc in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for name, proc in runs.items():
        assert proc.returncode == 0, (name, outputs[name][1][-2000:])
    assert "2 replica(s) in sync" in outputs["mirrored"][1], outputs["mirrored"][1][-2000:]
    assert "global batch 128 = 2 x 64 per replica" in outputs["mirrored"][1]
    metrics = {s: json.loads((tmp_path / s / "metrics.json").read_text()) for s in runs}
    assert metrics["mirrored"]["config"]["strategy"] == "mirrored"
    accuracy = {s: m["test_accuracy"] for s, m in metrics.items()}
    assert abs(accuracy["mirrored"] - accuracy["default"]) <= 0.01, accuracy
    assert accuracy["mirrored"] > 0.5, accuracy  # 2 epochs on 2,750 images; chance is 0.1


# ----------------------------------------------------------------------------- multi-worker


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class Cluster:
    """Two ``mnist-edge train --strategy multi-worker`` processes on 127.0.0.1; each writes
    its output to a log file, each is killed in ``close`` if still running."""

    def __init__(self, tmp_path: Path, args: list[str]) -> None:
        self.ports = free_ports(2)
        self.args = args
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.tmp = tmp_path / "tmp"  # the workers' temporary folder (non-chief output, backup)
        self.tmp.mkdir()
        self.procs: list[subprocess.Popen[Any]] = []
        self.runs = 0

    def start(self) -> list[Path]:
        self.runs += 1
        logs = []
        for index in range(2):
            env = {**os.environ, "TF_CONFIG": tf_config(self.ports, index)}
            env.update(PYTHONUNBUFFERED="1", TMPDIR=str(self.tmp))
            env.pop("PYTHONPATH", None)
            log = self.logs / f"run{self.runs}-worker{index}.log"
            with open(log, "w") as fh:
                self.procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "mnist_edge", "train", *self.args],
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        env=env,
                        cwd=ROOT,
                    )
                )
            logs.append(log)
        return logs

    def wait(self, index: int, timeout: float) -> int:
        return self.procs[-2 + index].wait(timeout=timeout)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def wait_for(path: Path, text: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert proc.poll() is None, path.read_text()[-3000:]
        assert time.monotonic() < deadline, (
            f"no {text!r} in {timeout} s: {path.read_text()[-3000:]}"
        )
        time.sleep(0.2)


def check_artifacts(out: Path) -> dict[str, Any]:
    # No checkpoint, backup, lock or temporary file: only what a finished run leaves.
    names = {p.name for p in out.iterdir()}
    assert names == ARTIFACTS, names
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_multi_worker_two_processes_only_the_chief_writes(tmp_path: Path) -> None:
    """Two workers, a few hundred images, one epoch: both finish; --out holds the chief's
    artifacts only; the chief's model loads and exports."""
    out = tmp_path / "out"
    args = ["--limit", "400", "--epochs", "1", "--batch-size", "32", "--augment", "none"]
    cluster = Cluster(tmp_path, [*args, "--strategy", "multi-worker", "--out", str(out)])
    try:
        logs = cluster.start()
        codes = [cluster.wait(i, timeout=240) for i in range(2)]
    finally:
        cluster.close()
    assert codes == [0, 0], [log.read_text()[-3000:] for log in logs]
    chief, other = (log.read_text() for log in logs)
    assert "worker 0 of 2 (chief), 2 replica(s) in sync" in chief, chief[-3000:]
    assert "global batch 32 = 2 x 16 per replica" in chief
    assert "is not the chief" in other and "temporary folder, now deleted" in other
    metrics = check_artifacts(out)
    assert metrics["config"]["strategy"] == "multi-worker" and metrics["epochs_run"] == 1
    assert metrics["test_images"] == 10000  # predictions gathered from both workers
    assert os.listdir(cluster.tmp) == []  # the other worker's output and backup are gone
    # The saved model, evaluated alone, scores exactly the metrics both workers computed
    # together (the same weights and batch-norm statistics on every worker, predictions
    # gathered in order); meanwhile it exports.
    evaluate = subprocess.Popen(
        [sys.executable, "-m", "mnist_edge", "evaluate", "--model", str(out / "model.keras"),
         "--out", str(tmp_path / "evaluation")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd=ROOT,
    )  # fmt: skip
    try:
        exported = run_cli(
            "export", "--formats", "tflite-int8", "--model", str(out / "model.keras"),
            "--out", str(tmp_path / "export"), "--min-agreement", "int8=0.9",
            "--calibration-samples", "100", timeout=300,
        )  # fmt: skip
        evaluated = evaluate.communicate(timeout=300)
    finally:
        if evaluate.poll() is None:
            evaluate.kill()
            evaluate.wait()
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert list((tmp_path / "export").glob("*int8*.tflite")), os.listdir(tmp_path / "export")
    assert evaluate.returncode == 0, evaluated[1][-3000:]
    alone = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    # Float round-off between batch shapes may flip a near-tie; workers whose batch-norm
    # statistics differed disagreed on 9 of the 10,000 images.
    assert abs(alone["test_errors"] - metrics["test_errors"]) <= 2, (alone, metrics)


@pytest.mark.slow
def test_multi_worker_resumes_after_a_lost_worker(tmp_path: Path) -> None:
    """Kill worker 1 once it has started epoch 2 of 3; the chief stops with a one-line error;
    restarting both with the same command resumes from the backup after epoch 1."""
    out = tmp_path / "out"
    args = ["--limit", "400", "--epochs", "3", "--batch-size", "32", "--augment", "none"]
    cluster = Cluster(tmp_path, [*args, "--strategy", "multi-worker", "--out", str(out)])
    try:
        first = cluster.start()
        wait_for(first[1], "Epoch 2/3", cluster.procs[1], timeout=180)
        cluster.procs[1].send_signal(signal.SIGKILL)
        assert cluster.wait(1, timeout=30) == -signal.SIGKILL
        assert cluster.wait(0, timeout=120) == 2, first[0].read_text()[-3000:]
        lost = first[0].read_text()
        assert "lost a worker" in lost and "restart every worker" in lost, lost[-3000:]
        assert "Traceback" not in lost, lost[-3000:]
        done = resume.backup_epoch(out / "backup")  # 1; 2 if epoch 2 beat the kill
        assert done in (1, 2), os.listdir(out)
        before = set(os.listdir(cluster.tmp))  # the killed worker's own temporary folder

        second = cluster.start()  # the same command, the same TF_CONFIG
        codes = [cluster.wait(i, timeout=300) for i in range(2)]
    finally:
        cluster.close()
    assert codes == [0, 0], [log.read_text()[-3000:] for log in second]
    for log in second:  # both workers restored the backup: epoch 1 is not run again
        assert f"continuing at epoch {done + 1}" in log.read_text(), log.read_text()[-3000:]
        assert "Epoch 1/3" not in log.read_text() and f"Epoch {done + 1}/3" in log.read_text()
    metrics = check_artifacts(out)
    assert metrics["resumed_after_epoch"] == done and metrics["epochs_run"] == 3
    with open(out / "history.csv") as fh:
        assert [row["epoch"] for row in csv.DictReader(fh)] == ["1", "2", "3"]
    assert len(metrics["confusion_matrix"]) == 10 and metrics["best_epoch"] in (1, 2, 3)
    after = set(os.listdir(cluster.tmp))
    assert not {n for n in after if n.startswith("mnist-edge-backup")}, after  # backups removed
    assert after <= before, after - before  # nothing new left behind
