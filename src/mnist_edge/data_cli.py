"""``mnist-edge data``: locate (downloading if needed), verify, and optionally copy MNIST."""

from __future__ import annotations

import argparse

from mnist_edge.core import data


def _folder(value: str) -> str:
    # An empty value (an unset shell variable) must not silently mean "not given".
    if not value.strip():
        raise argparse.ArgumentTypeError("expected a folder, got an empty string")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=_folder, help=f"folder with the IDX files (or ${data.ENV_DATA})"
    )
    parser.add_argument(
        "--copy-to", type=_folder, metavar="DIR", help="copy the verified files into DIR"
    )
    parser.add_argument(
        "--no-download", action="store_true", help="fail instead of downloading into the user cache"
    )


def run(args: argparse.Namespace) -> int:
    if args.copy_to:
        data.check_copy_target(args.copy_to)  # a hopeless target fails before any download
    for split in ("train", "test"):
        loaded = data.load_split(split, args.data_dir, download=not args.no_download)
        print(f"{split}: {len(loaded):,} images verified")
    print(f"MNIST at {data.resolve_data_dir(args.data_dir, download=False)}")
    if args.copy_to:
        print(f"copied to {data.copy_to(args.copy_to, args.data_dir)}")
    return 0
