"""Which task of a multi-worker cluster this process is, from ``$TF_CONFIG``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from mnist_edge.core.errors import UserError


@dataclass(frozen=True)
class Task:
    type: str | None
    index: int
    workers: int  # tasks in the cluster (chief and workers)
    chief: bool


def worker() -> Task:
    """This process's task in ``$TF_CONFIG`` (without it: a cluster of one, its own chief).

    The chief is the ``chief`` task, or ``worker`` 0 when the cluster has no ``chief``: the
    ``_is_chief`` rule of TensorFlow's multi-worker guide.
    """
    raw = os.environ.get("TF_CONFIG", "").strip()
    if not raw:
        return Task(None, 0, 1, True)
    try:
        spec = json.loads(raw)
        cluster = spec.get("cluster") or {}
        task = spec.get("task") or {}
        kind, index = task.get("type"), int(task.get("index", 0))
        workers = sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))
    except (ValueError, TypeError, AttributeError) as exc:
        raise UserError(f"TF_CONFIG is not valid JSON of the documented form: {exc}") from None
    if kind not in ("chief", "worker") or not 0 <= index < len(cluster.get(kind, [])):
        raise UserError(
            f"TF_CONFIG's task {task!r} is not in its cluster {sorted(cluster)}: give "
            '"task": {"type": "worker", "index": I} with I below the number of workers'
        )
    chief = kind == "chief" or (kind == "worker" and index == 0 and "chief" not in cluster)
    return Task(kind, index, workers, chief)
