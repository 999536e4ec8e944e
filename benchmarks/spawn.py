"""A benchmark worker in a fresh interpreter, under a deadline: its one result line and when
it arrived (the cold start ends there, not at interpreter teardown), or why there is none."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from typing import Any

MARK = "@@RESULT@@"  # the worker prints its result after this, on one line


def spawn(
    python: str, module: str, spec: dict[str, Any], timeout: float
) -> tuple[dict[str, Any] | None, str, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            [python, "-m", module, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    except OSError as exc:
        return None, f"cannot start {python}: {exc.strerror or exc}", 0.0
    # A reader thread notes when the result line arrives (cold start ends there, not at
    # interpreter teardown); the deadline is enforced here, whether or not the child prints.
    lines: list[str] = []
    arrived: list[float] = []
    errors: list[str] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(MARK) and not arrived:
                arrived.append(time.perf_counter())
            lines.append(line)

    def read_stderr() -> None:
        assert proc.stderr is not None
        errors.append(proc.stderr.read())

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for reader in readers:
        reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None, f"timed out after {timeout:g} s", 0.0
    except BaseException:  # stopped (SIGTERM, Ctrl-C): the worker goes with the run
        proc.kill()
        proc.wait()
        raise
    for reader in readers:
        reader.join(timeout=5)
    payload = next((line[len(MARK) :] for line in lines if line.startswith(MARK)), None)
    elapsed = ((arrived[0] if arrived else time.perf_counter()) - started) * 1000
    if payload is None:
        tail = [line for line in "".join(errors).strip().splitlines() if line.strip()]
        why = tail[-1][:300] if tail else f"exit status {proc.returncode}"
        if "No module named 'mnist_edge" in why:
            why = (
                f"{python} has no mnist-edge installed; install it there: "
                f"{python} -m pip install --no-deps PATH_TO_MNIST_EDGE"
            )
        return None, f"worker crashed: {why}", elapsed
    return json.loads(payload), "", elapsed
