"""Shared fixtures. Tests come in layers:

- unit tests need neither MNIST nor TensorFlow (the app, the runtime wrapper, the registry, the
  preprocessing, configs, learning, collecting, the layout rules);
- tests that take ``data_dir`` read the real MNIST (``$MNIST_EDGE_DATA`` or ``../shared``) and
  fail, never skip, when it is missing;
- ``slow`` tests train or export a model (TensorFlow): ``-m "not slow"`` leaves them out.

The suite runs against the installed package (``pip install -e '.[dev]'``): subprocesses get no
PYTHONPATH, as a user's shell has none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"  # the shipped models: real files, no TensorFlow needed to run them
DRAWN = ROOT.parent / "shared" / "data" / "drawn"
#: What `mnist-edge train` leaves in its output folder.
TRAIN_ARTIFACTS = {
    "model.keras",
    "metrics.json",
    "history.csv",
    "summary.txt",
    "curves.png",
    "confusion.png",
    "predictions.png",
    "mistakes.png",
}
#: A benchmark that measures every figure, briefly (200 test digits, tens of timed calls).
QUICK_BENCH = ["--limit", "200", "--min-time", "0.05", "--min-runs", "20", "--warmup", "2"]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


def find_data() -> Path | None:
    for candidate in (os.environ.get("MNIST_EDGE_DATA"), ROOT.parent / "shared" / "data" / "mnist"):
        if candidate and (Path(candidate) / "t10k-labels-idx1-ubyte.gz").exists():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data()
    if found is None:
        raise RuntimeError("MNIST not found: set MNIST_EDGE_DATA to the folder with the IDX files")
    return found


@pytest.fixture(autouse=True)
def _private_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Every test gets its own empty user cache and data folder (profiles!), and sees MNIST
    through the variable where it exists."""
    found = find_data()
    if found is not None:
        monkeypatch.setenv("MNIST_EDGE_DATA", str(found))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data-home"))
    monkeypatch.delenv("MNIST_EDGE_PROFILES", raising=False)
    monkeypatch.delenv("MNIST_EDGE_MODELS", raising=False)


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    module: str = "mnist_edge",
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> ARGS`` the way a user runs the console script."""
    full_env = {**os.environ, **(env or {})}
    if "PYTHONPATH" not in (env or {}):
        full_env.pop("PYTHONPATH", None)
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def blocked_imports_env(tmp_path: Path, *packages: str) -> dict[str, str]:
    """Environment for a subprocess (and its children) in which importing ``packages`` fails:
    a ``sitecustomize`` on PYTHONPATH installs a finder that refuses them."""
    guard = tmp_path / f"guard-{'-'.join(packages)}"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(
        "import sys\n"
        f"BLOCKED = {packages!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ImportError('blocked in this test: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
    )
    return {"PYTHONPATH": str(guard)}


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The edge CNN trained for 2 epochs on 6,000 images: a real model in ~20 s (slow tests)."""
    from mnist_edge.core.config import build_config
    from mnist_edge.train.config import TrainConfig
    from mnist_edge.train.trainer import train

    found = find_data()
    assert found is not None, "MNIST not found: set MNIST_EDGE_DATA"
    os.environ["MNIST_EDGE_DATA"] = str(found)
    out = tmp_path_factory.mktemp("run") / "run"
    config = build_config(
        TrainConfig,
        {
            "arch": "edge",
            "epochs": 2,
            "limit": 6000,
            "augment": "none",
            "out": str(out),
            "force": True,
        },
    )
    train(config)
    return out


@pytest.fixture(scope="session")
def tiny_export(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_run`` exported to every format."""
    from mnist_edge.export.config import ExportConfig
    from mnist_edge.export.exporter import run_export

    out = tmp_path_factory.mktemp("export") / "models"
    # A 2-epoch model has soft probabilities, so int8 agreement is checked against 97 %, not 99.5 %.
    outcomes = run_export(
        ExportConfig(
            model=str(tiny_run / "model.keras"),
            out=str(out),
            calibration_samples=200,
            min_agreement={"int8": 0.97, "dynamic": 0.98},
        )
    )
    failed = [(o.fmt.key, o.reason) for o in outcomes if o.status != "ok"]
    assert not failed, failed
    return out


# ----------------------------------------------------------------------------- the real app


@pytest.fixture
def app_factory(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Builds the real App (input -> state -> view) on SDL's dummy driver, with the shipped
    int8 model on LiteRT: no TensorFlow, no MNIST."""
    from mnist_edge.edge_app.app import App, AppConfig
    from mnist_edge.edge_app.display import import_pygame, open_display
    from mnist_edge.edge_app.learn import Learner
    from mnist_edge.edge_app.recognizer import Recognizer
    from mnist_edge.edge_app.runtime import load_model

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    pygame = import_pygame()
    model = load_model(MODELS / "edge-int8.tflite")

    def make(
        size: tuple[int, int] = (800, 480),
        learner: Any = None,
        collector: Any = None,
        recorder: Any = None,
        **options: Any,
    ) -> App:
        screen = open_display(pygame, size, False, True)
        if learner is True:
            learner = Learner("sha", int(model.embedding.shape[-1]))
        return App(
            pygame,
            screen,
            Recognizer(model, 0.5, learner=learner),
            AppConfig(**options),
            "shipped",
            collector,
            recorder,
        )

    yield make
    pygame.quit()


def finger(pg: Any, kind: int, x: float, y: float, finger_id: int = 0) -> Any:
    return pg.event.Event(
        kind, touch_id=1, finger_id=finger_id, x=x, y=y, dx=0.0, dy=0.0, pressure=1.0
    )


def stroke_events(
    app: Any, points: list[tuple[float, float]], finger_id: int = 0, up: bool = True
) -> list[Any]:
    pg = app.pg
    events = []
    for i, p in enumerate(points):
        u, v = app.display_uv_of(p)
        kind = pg.FINGERDOWN if i == 0 else pg.FINGERMOTION
        events.append(finger(pg, kind, u, v, finger_id))
    if up:
        events.append(finger(pg, pg.FINGERUP, *app.display_uv_of(points[-1]), finger_id))
    return events


def run_events(app: Any, events: list[Any]) -> None:
    for event in events:
        app.pg.event.post(event)
    app.frame(None)


def tap(app: Any, rect: Any) -> list[Any]:
    u, v = (rect.x + rect.w / 2) / app.logical[0], (rect.y + rect.h / 2) / app.logical[1]
    return [finger(app.pg, app.pg.FINGERDOWN, u, v), finger(app.pg, app.pg.FINGERUP, u, v)]


TRAINED = {"tiny_run", "tiny_export", "export_args"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that needs a trained or exported model is ``slow`` (TensorFlow, seconds to a
    minute); ``-m "not slow"`` is then the fast layer, runnable without TensorFlow."""
    for item in items:
        if TRAINED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
