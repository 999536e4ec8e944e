"""The number reader's fitted scores are data beside the models: named by the manifest with
their sha256, checked on load, tied to the model they were fitted with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mnist_edge.edge_app.numbers.weights import (
    FEATURES,
    FILE,
    KIND,
    ScoresError,
    load_scores,
    parse_scores,
    shipped_scores,
)
from mnist_edge.edge_app.runtime.shipped import (
    ManifestError,
    fitted_entry,
    read_manifest,
    record_fitted,
)
from tests.conftest import ROOT

MODELS = ROOT / "models"


def test_the_manifest_names_the_shipped_scores_with_their_checksum() -> None:
    entry = fitted_entry(MODELS, KIND)
    assert entry is not None and entry.path.name == FILE
    scores = load_scores(entry.verify())
    assert scores.to_json() == shipped_scores().to_json()
    manifest = read_manifest(MODELS)
    source = manifest["models"][0]["source"]["sha256"]
    # fitted with the int8 file of the shipped training; every export of it shares the source
    assert scores.fit.model == "edge-int8.tflite" and scores.fit.source_sha256 == source
    assert entry.raw["model_sha256"] == scores.fit.model_sha256
    assert scores.net.w1.shape == (len(FEATURES), 24) and scores.fit.writers == 87


def test_scores_round_trip_and_say_when_the_model_is_another(tmp_path: Path) -> None:
    scores = shipped_scores()
    again = parse_scores(json.loads(json.dumps(scores.to_json())), "round trip")
    x = np.random.default_rng(0).normal(size=(50, len(FEATURES)))
    assert np.array_equal(again.net(x), scores.net(x))  # bit-identical readings from data
    same = SimpleNamespace(description={"source": {"sha256": scores.fit.source_sha256}})
    other = SimpleNamespace(description={"source": {"sha256": "f" * 64}})
    assert scores.mismatch(same) is None
    line = scores.mismatch(other)
    assert line is not None and "edge-int8.tflite" in line and "numbers fit" in line
    assert scores.mismatch(SimpleNamespace(description=None)) is not None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(schema="x"), "is not a mnist-edge-number-scores/1 file"),
        (lambda d: d.update(features=d["features"][::-1]), "other features"),
        (lambda d: d["net"].update(mean=d["net"]["mean"][:3]), "shapes do not fit"),
        (lambda d: d["net"]["scale"].__setitem__(0, 0.0), "zero scale"),
        (lambda d: d.update(per_digit=float("nan")), "must be finite"),
        (lambda d: d["fit"].pop("source_sha256"), "fit record is incomplete"),
    ],
)
def test_a_damaged_scores_file_is_one_line(tmp_path: Path, change, says: str) -> None:
    data = shipped_scores().to_json()
    change(data)
    path = tmp_path / FILE
    path.write_text(json.dumps(data))
    with pytest.raises(ScoresError) as err:
        load_scores(path)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_refit_is_named_by_its_folders_manifest(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(MODELS / "manifest.json", models / "manifest.json")
    (models / FILE).write_text(json.dumps(shipped_scores().to_json()))
    record_fitted(models, KIND, FILE, {"model": "edge-int8.tflite"})
    entry = fitted_entry(models, KIND)
    assert entry is not None and entry.verify() == models / FILE
    assert len(read_manifest(models)["fitted"]) == 1  # replaced, not added
    (models / FILE).write_text("{}")  # changed behind the manifest's back
    with pytest.raises(ManifestError, match="does not match"):
        entry.verify()
