"""``mnist-edge data``: locate (downloading if needed), verify, and optionally copy MNIST."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from mnist_edge.core import data
from mnist_edge.core.config import add_options, build_config, option, require


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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_options(parser, DataConfig)


def run(args: argparse.Namespace) -> int:
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
