"""The configurations of the measuring tools beside ``bench``: one frozen dataclass each.

``mnist-edge numbers bench|speed|pictures``, ``mnist-edge estimate``, ``mnist-edge
collect-cost`` and ``mnist-edge compare``. Every value is checked here, once, with a one-line
error; the files they read and write are checked by their runners before any measuring starts.
"""

from __future__ import annotations

from dataclasses import dataclass

from mnist_edge.core.config import DATA_DIR_HELP, force_option, option, require, require_int

MAX_NUMBERS = 100_000  # numbers timed or read per file: hours of measuring already
MAX_SAVES = 10_000


def model_option() -> object:
    return option(None, "a .tflite or .onnx model", metavar="FILE", default_text="the shipped one")


def out_option(what: str) -> object:
    return option(None, f"also write {what} here", metavar="FILE")


def _files(flag: str, files: tuple[str, ...], what: str) -> tuple[str, ...]:
    files = tuple(files)
    require(bool(files), f"name at least one {what}")
    require(all(files), f"{flag} needs file names; an empty name is no file")
    return files


def _optional_name(flag: str, value: str | None) -> None:
    require(value != "", f"{flag} needs a value; name a file or leave it out")


@dataclass(frozen=True)
class NumberBenchConfig:
    files: tuple[str, ...] = option((), "number files", flag=False)  # positional
    model: str | None = model_option()
    speed: int = option(0, f"also time reading N 5-digit numbers (0-{MAX_NUMBERS:,})")
    no_score: bool = option(False, "with --speed: time only")
    out: str | None = out_option("the tables (markdown)")
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", _files("FILE", self.files, "number file"))
        _optional_name("--model", self.model)
        _optional_name("--out", self.out)
        require_int("--speed", self.speed, 0, MAX_NUMBERS)
        require(not self.no_score or self.speed > 0, "--no-score needs --speed N: nothing to do")


@dataclass(frozen=True)
class NumberSpeedConfig:
    file: str = option("", "a number file", flag=False)  # positional
    model: str | None = model_option()
    count: int = option(60, f"5-digit numbers to time (1-{MAX_NUMBERS:,})")
    repeats: int = option(3, "reads per number, the least kept (1-20)")
    out: str | None = out_option("the record (JSON, for 'mnist-edge estimate --numbers')")
    force: bool = force_option()

    def __post_init__(self) -> None:
        require(bool(self.file), "name a number file: mnist-edge numbers speed FILE")
        _optional_name("--model", self.model)
        _optional_name("--out", self.out)
        require_int("--count", self.count, 1, MAX_NUMBERS)
        require_int("--repeats", self.repeats, 1, 20)


@dataclass(frozen=True)
class PicturesConfig:
    files: tuple[str, ...] = option((), "number files", flag=False)  # positional
    model: str | None = model_option()
    limit: int | None = option(None, "the first N numbers of each file only")
    out: str | None = out_option("the tables (markdown)")
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", _files("FILE", self.files, "number file"))
        _optional_name("--model", self.model)
        _optional_name("--out", self.out)
        if self.limit is not None:
            require_int("--limit", self.limit, 1, MAX_NUMBERS)


@dataclass(frozen=True)
class EstimateConfig:
    results: str | None = option(None, "results.json of 'mnist-edge bench'", flag=False)
    numbers: str | None = option(
        None,
        "a record of 'mnist-edge numbers speed --out' instead of RESULTS",
        metavar="SPEED_JSON",
    )
    pen: bool = option(False, "the pen channel's rows ('bench --pen') instead of the image rows")
    macs: int | None = option(None, "the model's multiply-adds (for the notes)")
    out: str | None = out_option("the Markdown")
    force: bool = force_option()

    def __post_init__(self) -> None:
        for flag, value in (("RESULTS", self.results), ("--numbers", self.numbers)):
            _optional_name(flag, value)
        _optional_name("--out", self.out)
        require(
            (self.results is None) != (self.numbers is None),
            "name a results.json of 'mnist-edge bench', or --numbers SPEED_JSON (one of them)",
        )
        require(not (self.pen and self.numbers), "--pen reads a results.json, not --numbers")
        if self.macs is not None:
            require_int("--macs", self.macs, 1, 10**15)


@dataclass(frozen=True)
class CollectCostConfig:
    file: str = option("", "a stroke file", flag=False)  # positional
    saves: int = option(30, f"saves to time (1-{MAX_SAVES:,})")

    def __post_init__(self) -> None:
        require(bool(self.file), "name a stroke file: mnist-edge collect-cost FILE")
        require_int("--saves", self.saves, 1, MAX_SAVES)


@dataclass(frozen=True)
class CompareConfig:
    runs: tuple[str, ...] = option((), "'mnist-edge train' folders", flag=False)  # positional
    dev: str | None = option(None, "a labelled replay file: the share the app reads right")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    out: str | None = out_option("the Markdown table")
    force: bool = force_option()

    def __post_init__(self) -> None:
        object.__setattr__(self, "runs", _files("RUN", self.runs, "training run folder"))
        for flag, value in (
            ("--dev", self.dev),
            ("--data-dir", self.data_dir),
            ("--out", self.out),
        ):
            _optional_name(flag, value)
