"""The tree's rules, read from the source: imports point down the floors, one registry holds
the tables of formats and runtimes, and the edge app never reaches TensorFlow or training code.
"""

from __future__ import annotations

import ast
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from mnist_edge.core.registry import EDGE_RUNTIMES, FORMATS, RUNTIMES
from tests.conftest import ROOT


def _package_dirs() -> dict[str, Path]:
    """Installed package -> its folder, as pyproject.toml (the one place it is written) maps it.
    The package root ``mnist_edge`` (the console script, top floor) is the room ``cli``."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        mapping = tomllib.load(f)["tool"]["setuptools"]["package-dir"]
    return {
        ("cli" if name == "mnist_edge" else name.removeprefix("mnist_edge.")): ROOT / folder
        for name, folder in mapping.items()
    }


PACKAGES = _package_dirs()
#: What each room may import from the project (the README's Layout section says the same).
ALLOWED = {
    "core": {"core"},
    "ink": {"core", "ink"},
    "edge_app": {"core", "ink", "edge_app"},
    "train": {"core", "ink", "edge_app", "train"},
    "export": {"core", "ink", "edge_app", "train", "export"},
    "benchmarks": {"core", "ink", "edge_app", "benchmarks"},
    "pipeline": {"core", "ink", "edge_app", "train", "export", "benchmarks", "pipeline", "cli"},
    "cli": set(PACKAGES),
}
FRAMEWORKS = ("tensorflow", "keras", "tf2onnx", "onnx.", "tf_keras")


def _files(room: str) -> list[Path]:
    """The room's modules. ``__main__`` files are entry points (``python -m``): top floor."""
    folder = PACKAGES[room]
    files = folder.glob("*.py") if room == "cli" else folder.rglob("*.py")
    return sorted(p for p in files if p.name != "__main__.py" or room == "cli")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "mnist_edge" or len(parts) == 1:
        return None
    if parts[1] == "__version__":  # the package's version number is foundation
        return "core"
    return parts[1] if parts[1] in PACKAGES else "cli"


@pytest.mark.parametrize("room", list(PACKAGES))
def test_imports_point_down(room: str) -> None:
    wrong = []
    for path in _files(room):
        for module in _imports(path):
            target = _room(module)
            if target is not None and target not in ALLOWED[room]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_one_layout_rule() -> None:
    """Every top-level code folder is exactly one ``mnist_edge.<folder>`` package, and no partial
    ``mnist_edge`` folder sits at the root where it would shadow an installed package."""
    assert not (ROOT / "mnist_edge").exists()
    mapped = {folder for room, folder in PACKAGES.items() if room != "cli"}
    assert all(
        folder.parent == ROOT and folder.name == room
        for room, folder in PACKAGES.items()
        if room != "cli"
    )
    assert PACKAGES["cli"] == ROOT / "src" / "mnist_edge"
    tracked = subprocess.run(
        ["git", "ls-files", "*/__init__.py"], cwd=ROOT, capture_output=True, text=True
    )
    found = (  # packages in the repository (scratch folders in runs/ and the like do not count)
        [ROOT / line for line in tracked.stdout.split()]
        if tracked.returncode == 0
        else list(ROOT.glob("*/__init__.py"))
    )
    code = {p.parent for p in found if p.parent.parent == ROOT} - {ROOT / "tests"}
    assert code == mapped, sorted(str(p.relative_to(ROOT)) for p in code ^ mapped)
    assert all((folder / "__init__.py").is_file() for folder in PACKAGES.values())


def test_no_stray_top_level_packages() -> None:
    """Nothing in the project imports the repository folders by their bare names."""
    bare = {"train", "export", "benchmarks", "edge_app", "ink"}
    offenders = [
        f"{path.relative_to(ROOT)}: {module}"
        for room in PACKAGES
        for path in _files(room)
        for module in _imports(path)
        if module.split(".")[0] in bare
    ]
    assert not offenders, offenders


def test_edge_app_never_reaches_tensorflow_or_training() -> None:
    for path in _files("edge_app"):
        for module in _imports(path):
            assert not module.startswith(FRAMEWORKS), f"{path.name} imports {module}"
            assert _room(module) not in {"train", "export", "benchmarks", "pipeline"}


def _literal_strings(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_registry_is_the_only_table() -> None:
    """No module but the registry names two or more formats, or two or more runtimes: tables of
    them (maps, preference lists, per-format settings) live in one place only."""
    registry = PACKAGES["core"] / "registry.py"
    offenders = []
    for room in PACKAGES:
        for path in _files(room):
            if path == registry:
                continue
            strings = _literal_strings(path)
            formats = strings & set(FORMATS)
            runtimes = strings & set(RUNTIMES)
            if len(formats) >= 2 or len(runtimes) >= 2:
                offenders.append(f"{path.relative_to(ROOT)}: {sorted(formats | runtimes)}")
    assert not offenders, offenders


def test_registry_is_consistent() -> None:
    for fmt in FORMATS.values():
        assert fmt.runs_on and all(RUNTIMES[r].family == fmt.family for r in fmt.runs_on)
        module = fmt.exporter.partition(":")[0]
        assert (ROOT / "export" / f"{module.rsplit('.', 1)[1]}.py").is_file()
    assert EDGE_RUNTIMES[0] == "litert" and "keras" not in EDGE_RUNTIMES


def test_readme_layout_names_the_rules() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    for room, allowed in ALLOWED.items():
        if room == "cli":
            continue
        line = next((x for x in section.splitlines() if x.startswith(f"| `{room}")), "")
        assert line, f"README Layout does not describe {room}"
        rule = line.rsplit("|", 2)[-2]
        named = set(re.findall(r"`(\w+)`", rule))
        assert named == allowed - {room, "cli"}, (room, named)


def test_wheel_packages_are_namespaced() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    packages = re.search(r"packages = \[(.*?)\]", text, re.S)
    assert packages is not None
    names = re.findall(r'"([^"]+)"', packages.group(1))
    assert names and all(n == "mnist_edge" or n.startswith("mnist_edge.") for n in names)


def test_draw_loads_neither_training_nor_export_code() -> None:
    """``mnist-edge draw --help`` builds only the draw parser."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom mnist_edge.cli import main\n"
        "try:\n    main(['draw', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('mnist_edge.train', "
        "'mnist_edge.export', 'mnist_edge.pipeline', 'mnist_edge.benchmarks', "
        "'tensorflow', 'keras'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def _module_of(path: Path) -> str:
    room = next(r for r, folder in PACKAGES.items() if folder in path.parents or folder == path)
    folder = PACKAGES[room]
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    prefix = ["mnist_edge"] if room == "cli" else ["mnist_edge", room]
    return ".".join(prefix + parts)


def test_no_import_circles() -> None:
    """No module reaches itself through imports: every import counts, the lazy ones inside
    functions and the type-only ones too (a circle there still ties two rooms together)."""
    modules = {_module_of(p): p for room in PACKAGES for p in _files(room)}
    graph = {
        name: {m for m in _imports(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    circles, state = [], {}  # state: 1 on the stack, 2 done

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not circles, "\n".join(circles)
