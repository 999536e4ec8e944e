"""``mnist-edge data``: locate (downloading if needed), verify, and optionally copy MNIST;
``mnist-edge data drawn``: rebuild the drawn-digit files from their public sources;
``mnist-edge data selection``: derive which source samples those are from the team's files."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from mnist_edge.core import data
from mnist_edge.core.config import (
    add_options,
    build_config,
    force_option,
    option,
    require,
    require_int,
)


@dataclass(frozen=True)
class DataConfig:
    data_dir: str | None = option(None, f"folder with the IDX files (or ${data.ENV_DATA})")
    copy_to: str | None = option(None, "copy the verified files into DIR", metavar="DIR")
    download: bool = option(True, "download into the user cache when MNIST is not found")

    def __post_init__(self) -> None:
        # An empty value (an unset shell variable) must not silently mean "not given".
        for flag, value in (("--data-dir", self.data_dir), ("--copy-to", self.copy_to)):
            require(
                value is None or value.strip() != "",
                f"{flag} expected a folder, got an empty string",
            )


@dataclass(frozen=True)
class DrawnConfig:
    out: str | None = option(
        None,
        "folder for unipen-train.json, unipen-dev.json and uji-train.json",
        metavar="DIR",
        default_text="$XDG_CACHE_HOME/mnist-edge/drawn, beside the MNIST cache",
    )
    from_dir: str | None = option(
        None,
        "convert the archives found in DIR (fetched by hand) instead of downloading them",
        metavar="DIR",
    )
    force: bool = force_option()
    seed: int = option(0, "seed of each digit's random size and position")
    partial: bool = option(
        False, "write the digits found even when the archives lack some of the team's"
    )
    download: bool = option(
        True, "download archives that are neither in --from-dir nor in the cache"
    )

    def __post_init__(self) -> None:
        for flag, value in (("--out", self.out), ("--from-dir", self.from_dir)):
            require(
                value is None or value.strip() != "",
                f"{flag} expected a folder, got an empty string",
            )
        require_int("--seed", self.seed, 0, 2**32 - 1)


@dataclass(frozen=True)
class SelectionConfig:
    team_dir: str = option(
        "", "the team's unipen-train.json, unipen-dev.json and uji-train.json", flag=False
    )
    out: str | None = option(
        None,
        "the selection file to write",
        metavar="FILE",
        default_text="the package's core/drawn_sources/selection.json",
    )
    force: bool = force_option()

    def __post_init__(self) -> None:
        require(self.team_dir.strip() != "", "TEAM_DIR expected a folder, got an empty string")
        require(
            self.out is None or self.out.strip() != "", "--out expected a file, got an empty string"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, DataConfig)
    sub = parser.add_subparsers(dest="data_command", metavar="{drawn,selection}")
    drawn = sub.add_parser(
        "drawn",
        help="rebuild the drawn-digit files (UNIPEN, UJI) from their public releases",
        description="Download UNIPEN train_r01_v07 and UJI Pen Characters v2, check their "
        "SHA-256, and convert the team's digits of them into replay files.",
    )
    add_options(drawn, DrawnConfig)
    chosen = sub.add_parser(
        "selection",
        help="derive which source samples 'data drawn' keeps, from the team's drawn files",
        description="For maintainers: fingerprint every sample of the team's files (placement-"
        "invariant, no ink) into the selection 'data drawn' converts by.",
    )
    chosen.add_argument("team_dir", metavar="TEAM_DIR", help="the folder of the team's files")
    add_options(chosen, SelectionConfig)
    for p in (drawn, chosen):
        p.add_argument(
            "--verbose", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "data_command", None) == "drawn":
        return run_drawn(args)
    if getattr(args, "data_command", None) == "selection":
        return run_selection(args)
    config = build_config(DataConfig, vars(args), args.config, section="data")
    if config.copy_to:
        data.check_copy_target(config.copy_to)  # a hopeless target fails before any download
    for split in ("train", "test"):
        loaded = data.load_split(split, config.data_dir, download=config.download)
        print(f"{split}: {len(loaded):,} images verified")
    print(f"MNIST at {data.resolve_data_dir(config.data_dir, download=False)}")
    if config.copy_to:
        print(f"copied to {data.copy_to(config.copy_to, config.data_dir)}")
    return 0


def run_drawn(args: argparse.Namespace) -> int:
    from mnist_edge.core.drawn_sources import build

    config = build_config(DrawnConfig, vars(args), args.config, section="drawn")
    out = Path(config.out).expanduser() if config.out else build.default_out()
    build.build(
        out,
        from_dir=Path(config.from_dir).expanduser() if config.from_dir else None,
        force=config.force,
        seed=config.seed,
        partial=config.partial,
        download=config.download,
    )
    return 0


def run_selection(args: argparse.Namespace) -> int:
    from mnist_edge.core.drawn_sources import selection
    from mnist_edge.core.fsutil import write_text_atomic
    from mnist_edge.core.outputs import check_output

    config = build_config(SelectionConfig, vars(args), args.config, section="selection")
    team = Path(config.team_dir).expanduser()
    inputs = [("TEAM_DIR", team / name) for name in selection.FILES]
    out = check_output(
        "--out", config.out or selection.SELECTION_PATH, inputs=inputs, force=config.force
    )
    doc = selection.derive(team)
    write_text_atomic(out, selection.dumps(doc))
    counts = ", ".join(f"{n} {f['count']}" for n, f in doc["files"].items())
    print(f"wrote {out} ({counts})")
    return 0
