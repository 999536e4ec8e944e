"""Which model files to benchmark: a manifest's models, or the .tflite/.onnx files given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import is_temporary
from mnist_edge.core.registry import FORMATS, family_of
from mnist_edge.edge_app.runtime.shipped import MANIFEST, entries, models_dir


@dataclass(frozen=True)
class ModelFile:
    path: Path
    format: str  # a FORMATS key, or the family when unknown
    family: str
    precision: str
    bytes: int


def _from_manifest(directory: Path) -> tuple[list[ModelFile], Path | None]:
    """The manifest's models, each checked against its SHA-256 (a swapped file is refused)."""
    found = []
    keras = None
    for entry in entries(directory):
        path = entry.verify()
        fmt = FORMATS[entry.format]
        found.append(ModelFile(path, fmt.key, fmt.family, fmt.precision, path.stat().st_size))
        source = (entry.raw.get("source") or {}).get("file")
        if (
            isinstance(source, str)
            and Path(source).name == source
            and (directory / source).is_file()
        ):
            keras = directory / source
    return found, keras


def _from_file(path: Path) -> ModelFile:
    family = family_of(path.name)
    if family is None:
        raise UserError(f"{path} is neither a .tflite nor an .onnx file")
    key, precision = family, "?"
    try:  # the file's own description names its format; unreadable files fail as rows later
        from mnist_edge.edge_app.runtime import load_model

        description = load_model(path).description or {}
        key = description.get("format", key)
        precision = description.get("precision", precision)
    except Exception:
        pass
    return ModelFile(path, key, family, precision, path.stat().st_size if path.exists() else 0)


def discover(paths: tuple[str, ...]) -> tuple[list[ModelFile], Path | None]:
    """Model files to run and, if one is found, the Keras source for the reference row."""
    sources = [Path(p) for p in paths] or [models_dir()]
    models: list[ModelFile] = []
    keras: Path | None = None
    for source in sources:
        if source.is_dir():
            if (source / MANIFEST).is_file():
                found, source_keras = _from_manifest(source)
                models += found
                keras = keras or source_keras
            else:
                models += [
                    _from_file(p)
                    for p in sorted(source.iterdir())
                    if family_of(p.name) and not is_temporary(p)
                ]
                keras = keras or next(iter(sorted(source.glob("*.keras"))), None)
        elif source.suffix == ".keras":
            keras = source
        elif source.exists():
            models.append(_from_file(source))
        else:
            raise UserError(f"{source} not found; pass model files or a folder of them")
    if not models and keras is None:
        raise UserError(
            f"no models found in {', '.join(map(str, sources))}: pass .tflite/.onnx "
            "files or a folder with manifest.json (see 'mnist-edge export')"
        )
    return models, keras
