"""Find the models shipped with mnist-edge, read their manifest safely, pick the default one.

A manifest is data from disk, never trusted: its shape is validated with one-line errors, every
file it names must sit inside the manifest's own folder (no ``../``, no absolute paths), and a
file's SHA-256 must match before it is used, so a swapped or corrupted file never runs under a
format's name.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_edge.core.contract import MANIFEST_SCHEMA
from mnist_edge.core.errors import UserError
from mnist_edge.core.fsutil import read_capped, sha256_file, write_json_atomic
from mnist_edge.core.paths import checkout_models_dir
from mnist_edge.core.registry import FORMATS, RUNTIMES, formats_by_preference
from mnist_edge.edge_app.runtime import choose_runtime, installed_runtimes

ENV_MODELS = "MNIST_EDGE_MODELS"
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20


class ManifestError(UserError):
    """A manifest that cannot be trusted or read."""


@dataclass(frozen=True)
class Entry:
    """One validated manifest entry: a file inside the manifest's folder."""

    path: Path
    format: str
    family: str
    sha256: str
    raw: dict[str, Any]

    def verify(self) -> Path:
        """The file, after checking it is there and is the file the manifest describes."""
        if not self.path.is_file():
            raise ManifestError(
                f"{self.path} is listed in {MANIFEST} but missing; export the models again"
            )
        digest = sha256_file(self.path)
        if digest != self.sha256:
            raise ManifestError(
                f"{self.path} does not match its {MANIFEST} checksum (sha256 "
                f"{digest[:12]}..., listed {self.sha256[:12]}...): the file "
                "was changed or corrupted; export the models again"
            )
        return self.path


def models_dir() -> Path:
    """$MNIST_EDGE_MODELS, else models/ of a source checkout, else the installed share folder."""
    env = os.environ.get(ENV_MODELS)
    if env:
        return Path(env)
    checkout = checkout_models_dir()
    if checkout is not None and (checkout / MANIFEST).is_file():
        return checkout
    return Path(sys.prefix) / "share" / "mnist-edge" / "models"


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.exists() and not path.is_symlink():
        raise ManifestError(
            f"no models: {path} not found; pass --model PATH or set "
            f"{ENV_MODELS} to a folder written by 'mnist-edge export'"
        )
    raw = read_capped(path, MAX_MANIFEST_BYTES, "manifest", ManifestError)
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ManifestError(
            f"{path} is not a readable manifest ({str(exc)[:120]}); export the models again"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
        raise ManifestError(f"{path} has no 'models' list; export the models again")
    return manifest


def _confined(directory: Path, raw: Any, where: str) -> tuple[Path, str]:
    """An entry's file and sha256, checked: named, hashed, and beside the manifest."""
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: must be an object; export the models again")
    name, digest = raw.get("file"), raw.get("sha256")
    if not isinstance(name, str) or not name or not isinstance(digest, str) or len(digest) != 64:
        raise ManifestError(
            f"{where}: needs 'file' and a 64-digit 'sha256'; export the models again"
        )
    path = (directory / name).resolve()
    if path.parent != directory.resolve() or Path(name).is_absolute():
        raise ManifestError(
            f"{where}: file {name!r} is outside the manifest's folder; "
            "a manifest may only name files beside it"
        )
    return directory / name, digest


def entries(directory: Path, section: str | None = None) -> list[Entry]:
    """The manifest's model entries (``section``: those of that section, e.g. ``pen``; none
    when the manifest has no such section), each validated and confined to ``directory``."""
    manifest = read_manifest(directory)
    listed = manifest["models"]
    if section is not None:
        part = manifest.get(section)
        if part is None:
            return []
        listed = part.get("models") if isinstance(part, dict) else None
        if not isinstance(listed, list):
            raise ManifestError(
                f"{directory / MANIFEST}: {section!r} has no 'models' list; export again"
            )
    found = []
    for i, raw in enumerate(listed):
        where = f"{directory / MANIFEST}, {section + ' ' if section else ''}entry {i}"
        path, digest = _confined(directory, raw, where)
        name, fmt = path.name, raw.get("format")
        if fmt not in FORMATS:
            raise ManifestError(
                f"{where}: unknown format {str(fmt)[:40]!r}; valid formats: {', '.join(FORMATS)}"
            )
        if not name.lower().endswith(FORMATS[fmt].suffix):
            raise ManifestError(f"{where}: {name!r} is not a {FORMATS[fmt].suffix} file")
        found.append(Entry(path, fmt, FORMATS[fmt].family, digest, raw))
    return found


def fitted_entry(directory: Path, kind: str) -> Entry | None:
    """The manifest's fitted-parameter file of ``kind`` (``fitted``: data fitted with one of
    the models, e.g. the number reader's scores), validated and confined; None if it lists
    none."""
    listed = read_manifest(directory).get("fitted", [])
    if not isinstance(listed, list):
        raise ManifestError(f"{directory / MANIFEST}: 'fitted' must be a list; export again")
    for i, raw in enumerate(listed):
        if isinstance(raw, dict) and raw.get("kind") == kind:
            where = f"{directory / MANIFEST}, fitted entry {i}"
            path, digest = _confined(directory, raw, where)
            return Entry(path, kind, "data", digest, raw)
    return None


def recommended_format(directory: Path) -> str | None:
    """The format the pipeline recommended when it promoted these models, if it did."""
    pick = read_manifest(directory).get("recommended")
    fmt = pick.get("format") if isinstance(pick, dict) else None
    return fmt if fmt in FORMATS else None


def default_model(runtime: str = "auto", directory: Path | None = None) -> tuple[Path, str]:
    """(verified model file, runtime) for ``runtime``: ``auto`` tries the slim runtimes in the
    registry's order. For each, the pipeline's recommendation (recorded in the manifest) comes
    first where that runtime runs it, then the family's formats in the registry's order."""
    directory = directory or models_dir()
    by_format = {e.format: e for e in entries(directory)}
    if runtime == "auto":
        candidates = installed_runtimes()
        if not candidates:
            raise UserError(
                "no runtime installed; pip install ai-edge-litert (or "
                "'mnist-edge[edge]'), or tflite-runtime, or onnxruntime"
            )
    else:
        choose_runtime(RUNTIMES[runtime].family if runtime in RUNTIMES else "tflite", runtime)
        candidates = [runtime]
    recommended = recommended_format(directory)
    for name in candidates:
        order = formats_by_preference(RUNTIMES[name].family)
        if recommended is not None:
            order = sorted(order, key=lambda f: f.key != recommended)
        for fmt in order:
            if fmt.key in by_format and name in fmt.runs_on:
                return by_format[fmt.key].verify(), name
    raise UserError(
        f"{directory / MANIFEST} lists no model that {' or '.join(candidates)} "
        "can run; export one or pass --model PATH"
    )


def record_fitted(directory: Path, kind: str, name: str, about: dict[str, Any]) -> None:
    """Name a fitted-parameter file beside the models in their manifest (replacing the entry
    of the same kind) with its sha256 and ``about`` (the model it was fitted with)."""
    manifest = read_manifest(directory)
    listed = [
        e for e in manifest.get("fitted", []) if isinstance(e, dict) and e.get("kind") != kind
    ]
    entry = {"kind": kind, "file": name, "sha256": sha256_file(directory / name), **about}
    write_json_atomic(directory / MANIFEST, {**manifest, "fitted": [*listed, entry]})


def record_pen(directory: Path, section: dict[str, Any]) -> None:
    """The pen channel's files in the one manifest of ``directory`` (its ``pen`` section);
    a folder with no manifest yet gets one that lists no picture model."""
    manifest = (
        read_manifest(directory)
        if (directory / MANIFEST).is_file()
        else {"schema": MANIFEST_SCHEMA, "models": []}
    )
    write_json_atomic(directory / MANIFEST, {**manifest, "pen": section})


def pen_section(directory: Path) -> dict[str, Any] | None:
    """The manifest's ``pen`` section (source and files of the pen channel), if any."""
    if not (directory / MANIFEST).is_file():
        return None
    section = read_manifest(directory).get("pen")
    return section if isinstance(section, dict) else None
