"""The export job's configuration."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mnist_edge.core.config import DATA_DIR_HELP, option, require, require_int
from mnist_edge.core.errors import UserError
from mnist_edge.core.registry import FORMATS

PRECISIONS = sorted({f.precision for f in FORMATS.values()})


def parse_formats(text: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    if text is None:
        return tuple(FORMATS)
    keys = [k.strip() for k in (text.split(",") if isinstance(text, str) else text) if k.strip()]
    unknown = [k for k in keys if k not in FORMATS]
    require(
        not unknown and bool(keys),
        f"unknown format {', '.join(unknown) or '(none given)'}; valid formats: "
        f"{', '.join(FORMATS)}",
    )
    return tuple(dict.fromkeys(keys))


def parse_agreements(items: list[str] | dict[str, float] | None) -> dict[str, float]:
    """``["int8=0.99", …]`` -> {precision: minimum top-1 agreement}."""
    if not items:
        return {}
    if isinstance(items, dict):
        pairs = list(items.items())
    else:
        pairs = []
        for item in items:
            name, sep, value = item.partition("=")
            require(bool(sep), f"--min-agreement takes PRECISION=FRACTION, got {item!r}")
            try:
                pairs.append((name.strip(), float(value)))
            except ValueError:
                raise UserError(f"--min-agreement {item!r}: {value!r} is not a number") from None
    for name, value in pairs:
        require(
            name in PRECISIONS,
            f"--min-agreement: unknown precision {name!r}; choose from {', '.join(PRECISIONS)}",
        )
        require(0.0 <= value <= 1.0, f"--min-agreement {name}: {value} is not between 0 and 1")
    return dict(pairs)


@dataclass(frozen=True)
class ExportConfig:
    model: str = option("", "model.keras written by 'mnist-edge train'", default_text="")
    out: str | None = option(None, "output directory", default_text="MODEL_FOLDER/export")
    formats: tuple[str, ...] = option(
        tuple(FORMATS), f"comma-separated: {','.join(FORMATS)}", comma=True, default_text="all"
    )
    calibration_samples: int = option(500, "training images used to calibrate int8")
    data_dir: str | None = option(None, DATA_DIR_HELP)
    opset: int = option(17, "ONNX opset, 17-21")
    seed: int = option(0, "seed for picking calibration images")
    force: bool = option(False, "write into an existing output directory")
    min_agreement: dict[str, float] = option(
        help="override the validation threshold of a precision, e.g. int8=0.99; repeatable",
        metavar="PRECISION=FRACTION",
        default_factory=dict,
    )

    def __post_init__(self) -> None:
        require(
            isinstance(self.model, str) and bool(self.model),
            "--model is required: the model.keras written by 'mnist-edge train'",
        )
        object.__setattr__(self, "formats", parse_formats(self.formats))
        object.__setattr__(self, "min_agreement", parse_agreements(self.min_agreement))
        require(
            isinstance(self.calibration_samples, int) and 10 <= self.calibration_samples <= 60000,
            "--calibration-samples must be an integer from 10 to 60000, "
            f"got {self.calibration_samples!r}",
        )
        require_int("--seed", self.seed, 0, 2**32 - 1)
        require(
            isinstance(self.opset, int) and 17 <= self.opset <= 21,
            f"--opset must be from 17 to 21 (tf2onnx 1.17 supports up to 21), got {self.opset!r}",
        )

    @property
    def out_dir(self) -> Path:
        return Path(self.out) if self.out else Path(self.model).parent / "export"

    def threshold(self, precision: str, default: float) -> float:
        return self.min_agreement.get(precision, default)
