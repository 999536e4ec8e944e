"""Shared fixtures, and the test layers (docs/development.md), marked here at collection:

- unit tests need neither MNIST nor TensorFlow (the app, the runtime wrapper, the registry, the
  preprocessing, configs, learning, collecting, the layout rules);
- tests that take ``data_dir`` read the real MNIST (``$MNIST_EDGE_DATA`` or ``../shared``) and
  fail, never skip, when it is missing;
- ``tf`` tests need the ``train`` extra: they import TensorFlow, Keras, tf2onnx or onnx, or the
  project's train/export/pipeline code, or run those commands in a subprocess (found by reading
  the test modules, see :func:`pytest_collection_modifyitems`);
- ``slow`` tests train or export a model (a subset of ``tf``);
- ``system`` tests build and install the package or boot an emulated Raspberry Pi.

``-m "not tf and not system"`` is the fast layer, and passes in a venv with only the ``edge``
extra. The suite runs against the installed package (``pip install -e '.[dev]'``): subprocesses
get no PYTHONPATH, as a user's shell has none.
"""

from __future__ import annotations

import ast
import functools
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"  # the shipped models: real files, no TensorFlow needed to run them


def _drawn_dir() -> Path:
    """The drawn digits: ``$MNIST_EDGE_DRAWN``, else the team's copy beside the checkout, else
    where ``mnist-edge data drawn`` rebuilds them (``~/.cache/mnist-edge/drawn``)."""
    from mnist_edge.core.drawn_sources.build import default_out

    named = os.environ.get("MNIST_EDGE_DRAWN")
    beside = ROOT.parent / "shared" / "data" / "drawn"
    return Path(named) if named else beside if beside.is_dir() else default_out()


DRAWN = _drawn_dir()
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
QUICK_BENCH = ["--limit", "200", "--min-time", "0.05", "--min-runs", "20", "--warmup", "2",
               "--repeats", "1"]  # fmt: skip
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


def compose_numbers_file(path: Path, count: int, *extra: str) -> None:
    """Write ``count`` numbers composed from the held-out writers of ``unipen-train.json`` to
    ``path`` with ``mnist-edge numbers compose`` (``extra``: more flags)."""
    made = run_cli(
        "numbers",
        "compose",
        str(path),
        "--count",
        str(count),
        *extra,
        "--drawn",
        str(DRAWN / "unipen-train.json"),
    )
    assert made.returncode == 0, made.stderr


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
    from mnist_edge.edge_app.app.display import import_pygame, open_display
    from mnist_edge.edge_app.app.loop import App, AppConfig
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


# ----------------------------------------------------------------------------- test layers

#: Fixtures that train or export a model: tests using them are ``slow`` (and so ``tf``).
TRAINED = {"tiny_run", "tiny_export", "export_args"}
#: Modules that need the ``train`` extra (onnxruntime is an edge runtime, onnx is not).
TF_FRAMEWORKS = {"tensorflow", "keras", "tf2onnx", "onnx"}
TF_PACKAGES = ("mnist_edge.train", "mnist_edge.export", "mnist_edge.pipeline")
#: ``mnist-edge`` commands that load TensorFlow (or refuse to run without it).
TF_COMMANDS = {"train", "export", "evaluate", "pipeline"}
SYSTEM_MODULES = {"test_install.py", "test_pi_emulation.py"}
#: Code run with ``python -c`` that imports any of the above.
TF_CODE = re.compile(
    r"^\s*(?:from|import)\s+(tensorflow|keras|tf2onnx|onnx|mnist_edge\.(?:train|export|pipeline))\b",
    re.M,
)
#: Parametrized tests whose function reaches TensorFlow for some cases only: detection reads the
#: function, so these name the cases that do (and why), and the others stay in the fast layer.
TF_CASES = {
    ("test_hostile_inputs2.py", "test_bench_exit_codes"): (
        {"below-min-accuracy"},
        "its weak model (random weights, read at chance) is built with onnx",
    ),
}


def _tf_module(name: str) -> bool:
    return name.split(".")[0] in TF_FRAMEWORKS or any(
        name == p or name.startswith(p + ".") for p in TF_PACKAGES
    )


def _imported(node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """(module, the name it binds) for each name the statement imports."""
    if isinstance(node, ast.Import):
        return [(a.name, a.asname or a.name.split(".")[0]) for a in node.names]
    if node.level or not node.module:
        return []  # relative: the tests' own modules
    found = []
    for a in node.names:  # ``from mnist_edge import train`` imports mnist_edge.train
        full = f"{node.module}.{a.name}"
        module = full if not _tf_module(node.module) and _tf_module(full) else node.module
        found.append((module, a.asname or a.name))
    return found


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _constant(node: ast.AST) -> Any:
    return node.value if isinstance(node, ast.Constant) else None


class _Scan:
    """What a test module reaches, read from its source: for each top-level name (function,
    class, constant), why it needs TensorFlow, if it does; and which names start ``mnist-edge``
    or another process."""

    def __init__(self, path: Path) -> None:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        self.whole: str | None = None  # why every test in the module is tf
        imported: dict[str, str] = {}  # name bound at module level -> the tf module it is
        defs: dict[str, ast.AST] = {}
        for stmt in tree.body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs[stmt.name] = stmt
                continue
            for node in ast.walk(stmt):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    for module, bound in _imported(node):
                        if module.split(".")[0] in TF_FRAMEWORKS:
                            self.whole = self.whole or f"the module imports {module}"
                        elif _tf_module(module):
                            imported[bound] = module
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):  # module constants
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for target in targets:
                    for n in ast.walk(target):
                        if isinstance(n, ast.Name):
                            defs.setdefault(n.id, stmt)
        self.refs = {name: self._names(node) for name, node in defs.items()}
        self.spawns = {"run_cli"} | {
            name for name, node in defs.items() if self._starts_process(node)
        }
        while True:  # a helper that calls a helper that starts a process starts one
            more = {n for n, refs in self.refs.items() if refs & self.spawns} - self.spawns
            if not more:
                break
            self.spawns |= more
        self.why: dict[str, str] = {}
        for name, node in defs.items():
            uses = sorted(self.refs[name] & imported.keys())
            reason = self._own_reason(node) or (
                f"uses {uses[0]} from {imported[uses[0]]}" if uses else None
            )
            if reason:
                self.why[name] = reason
        while True:  # a test that calls a helper that needs TensorFlow needs it
            more = {}
            for n, refs in self.refs.items():
                helpers = sorted(refs & self.why.keys())
                if n not in self.why and helpers:
                    more[n] = f"{helpers[0]}: {self.why[helpers[0]]}"
            if not more:
                break
            self.why.update(more)

    @staticmethod
    def _names(node: ast.AST) -> set[str]:
        """The names ``node`` reads, less a function's own parameters and local variables."""
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names -= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            names -= {
                n.id
                for stmt in node.body
                for n in ast.walk(stmt)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            }
        return names

    @staticmethod
    def _starts_process(node: ast.AST) -> bool:
        for n in ast.walk(node):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
                owner = n.func.value
                if isinstance(owner, ast.Name) and owner.id == "subprocess":
                    return True
        return False

    def _own_reason(self, node: ast.AST) -> str | None:
        for n in ast.walk(node):
            if isinstance(n, (ast.Import, ast.ImportFrom)):
                for module, _ in _imported(n):
                    if _tf_module(module):
                        return f"imports {module}"
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                found = TF_CODE.search(n.value)
                if found:
                    return f"runs Python code that imports {found.group(1)}"
            elif isinstance(n, ast.Call):
                command = self._command(n)
                if command:
                    return f"runs {command}"
            elif isinstance(n, (ast.List, ast.Tuple)):
                words = [_constant(e) for e in n.elts]
                for a, b in itertools.pairwise(words):
                    if a in ("mnist_edge", "mnist-edge") and b in TF_COMMANDS:
                        return f"runs mnist-edge {b}"
                    if isinstance(b, str) and a == "-m" and _tf_module(b):
                        return f"runs python -m {b}"
        return None

    def _command(self, call: ast.Call) -> str | None:
        if _callee(call) not in self.spawns:
            return None
        for keyword in call.keywords:
            value = _constant(keyword.value)
            if keyword.arg == "module" and isinstance(value, str) and _tf_module(value):
                return f"python -m {value}"
        first = _constant(call.args[0]) if call.args else None
        return f"mnist-edge {first}" if first in TF_COMMANDS else None


@functools.cache
def _scan(path: Path) -> _Scan | None:
    try:
        return _Scan(path)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return None  # collection reports what is wrong with the file


def _defined_in(func: Any) -> tuple[Path, str] | None:
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    path = Path(code.co_filename).resolve()
    return (path, func.__name__) if path.is_relative_to(ROOT / "tests") else None


def _command_from_params(item: pytest.Item, scan: _Scan, name: str) -> str | None:
    """A command line the test takes as a parameter, or looks up by one in a module table."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or not scan.refs.get(name, set()) & scan.spawns:
        return None
    tables = [
        value
        for ref in scan.refs[name]
        if isinstance(value := getattr(getattr(item, "module", None), ref, None), dict)
    ]
    for value in callspec.params.values():
        candidates = [value]
        if isinstance(value, Hashable):
            candidates += [table[value] for table in tables if value in table]
        for argv in candidates:
            if isinstance(argv, (list, tuple)) and argv and argv[0] in TF_COMMANDS:
                return f"runs mnist-edge {argv[0]}"
    return None


def _needs_tf(item: pytest.Item) -> str | None:
    """Why the test needs TensorFlow, or None."""
    path = item.path.resolve()
    scan = _scan(path)
    name = getattr(item, "originalname", item.name)
    if scan is None:
        return None
    if scan.whole:
        return scan.whole
    if (path.name, name) in TF_CASES:
        cases, why = TF_CASES[path.name, name]
        callspec = getattr(item, "callspec", None)
        return why if callspec and callspec.id in cases else None
    cls = getattr(item, "cls", None)
    reason = scan.why.get(cls.__name__ if cls else name) or _command_from_params(item, scan, name)
    if reason:
        return reason
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    for fixture in getattr(item, "fixturenames", ()):
        for fixturedef in definitions.get(fixture, ())[-1:]:
            where = _defined_in(fixturedef.func)
            fixture_scan = _scan(where[0]) if where else None
            if where and fixture_scan:
                why = fixture_scan.whole or fixture_scan.why.get(where[1])
                if why:
                    return f"fixture {fixture}: {why}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the layers (module docstring): ``system`` by module, ``slow`` by the fixtures that
    train or export, ``tf`` by what the test's source reaches, ``slow`` included."""
    for item in items:
        if item.path.name in SYSTEM_MODULES:
            item.add_marker(pytest.mark.system)
        if TRAINED & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("tf"):
            continue
        why = "slow: trains or exports" if item.get_closest_marker("slow") else _needs_tf(item)
        if why:
            item.add_marker(pytest.mark.tf(why=why))
