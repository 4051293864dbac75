"""Weights files: metadata and hash round trip; every kind of bad file raises ModelError."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

from detector.errors import CountError, DeviceError, ModelError
from detector.model.net import build_ccnet
from detector.model.weights import (
    FORMAT,
    ModelMeta,
    file_sha256,
    load_model,
    read_meta,
    resolve_device,
    save_weights,
    set_score_thresh,
    state_sha256,
)

SMALL = {"widths": [8, 16, 16, 32, 32], "depths": [0, 1, 1, 1, 1], "head_ch": 16}


def _meta(**kw) -> ModelMeta:
    base = dict(
        arch="ccnet-v1",
        arch_kwargs=SMALL,
        recipe={"seed": 7, "steps": 3, "batch_size": 2, "generator": "synth-test"},
        metrics={"synthetic_val": {"f1": 0.5}},
        train_time_s=1.5,
        hardware="CPU test",
        code_version="0.1.0+test",
    )
    return ModelMeta(**{**base, **kw})


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_ccnet(**SMALL)
    path = tmp_path / "w.pt"
    meta = save_weights(path, model, _meta())
    return path, model.eval(), meta


def test_round_trip_keeps_metadata_weights_and_outputs(saved):
    path, model, meta = saved
    assert len(meta.state_sha256) == 64 and meta.state_sha256 == state_sha256(model.state_dict())
    loaded, got = load_model(path)
    assert got == meta
    assert got.classes == ("20ft", "40ft") and got.gsd_m == 0.4 and got.format == FORMAT
    assert got.recipe["seed"] == 7 and got.metrics["synthetic_val"]["f1"] == 0.5
    assert not loaded.training
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        a, b = model(x), loaded(x)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert read_meta(path) == meta
    assert not list(path.parent.glob(".*"))  # the atomic write left no temporary file


def test_calibrated_threshold_is_stored_without_touching_the_weights(saved):
    from detector.model.decode import DEFAULT_SCORE_THRESH

    path, model, meta = saved
    assert meta.score_thresh is None and meta.detect_thresh == DEFAULT_SCORE_THRESH
    before = file_sha256(path)
    got = set_score_thresh(path, 0.315)
    assert got.score_thresh == 0.315 and got.detect_thresh == 0.315
    assert file_sha256(path) != before  # the file's provenance hash follows the threshold
    loaded, meta2 = load_model(path)  # the state hash still checks
    assert meta2 == got and meta2.state_sha256 == meta.state_sha256
    for v in (0.0, 1.0, 1.5):
        with pytest.raises(ModelError, match="between 0 and 1"):
            set_score_thresh(path, v)

    assert read_meta(path).score_thresh == 0.315
    payload = torch.load(path, weights_only=True)
    payload["meta"]["score_thresh"] = 2.0
    torch.save(payload, path)
    with pytest.raises(ModelError, match="score_thresh"):
        read_meta(path)


def test_the_mirrored_passes_have_their_own_threshold(saved, tmp_path):
    import shutil

    from detector.detect.plan import DetectConfig, score_thresh_of
    from detector.model.weights import weights_id

    path = tmp_path / "copy.pt"
    shutil.copy(saved[0], path)
    meta = read_meta(path)
    set_score_thresh(path, 0.39)
    got = read_meta(path)
    # none calibrated for --tta yet: both runs use the plain one
    assert got.detect_thresh_for(False) == got.detect_thresh_for(True) == 0.39
    got = set_score_thresh(path, 0.36, tta=True)
    assert (got.score_thresh, got.score_thresh_tta) == (0.39, 0.36)
    assert got.detect_thresh_for(False) == 0.39 and got.detect_thresh_for(True) == 0.36
    plain = DetectConfig(model_path=path)
    assert score_thresh_of(plain) == 0.39
    assert score_thresh_of(DetectConfig(model_path=path, tta=True)) == 0.36
    # --score-thresh wins over both
    assert score_thresh_of(DetectConfig(model_path=path, tta=True, score_thresh=0.5)) == 0.5
    assert weights_id(path) == meta.state_sha256[:12]  # thresholds do not rename the network
    with pytest.raises(ModelError, match="between 0 and 1"):
        set_score_thresh(path, 1.2, tta=True)


def test_file_sha256_is_the_hash_of_the_bytes(saved):
    path, _, _ = saved
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def _resave(path, mutate):
    payload = torch.load(path, weights_only=True)
    mutate(payload)
    torch.save(payload, path)


def test_tampered_weights_fail_the_hash(saved):
    path, _, _ = saved

    def bump(p):
        name = next(k for k in p["state_dict"] if k.endswith("weight"))
        p["state_dict"][name] = p["state_dict"][name] + 1e-3

    _resave(path, bump)
    with pytest.raises(ModelError, match="hash does not match"):
        load_model(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"classes": ["20ft", "40ft", "45ft"]}, "classes"),
        ({"gsd_m": 0.5}, "GSD 0.5"),
        ({"arch": "yolo-v9"}, "architecture 'yolo-v9' unknown"),
        ({"arch_kwargs": {"widths": [8, 16, 16, 32, 64]}}, "do not fit"),
        ({"arch_kwargs": {"colour": "red"}}, "do not fit"),
    ],
)
def test_mismatched_metadata_is_refused(saved, change, message):
    path, _, _ = saved
    _resave(path, lambda p: p["meta"].update(change))
    with pytest.raises(ModelError, match=message) as err:
        load_model(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_bad_files_raise_model_error(tmp_path, saved):
    path, _, _ = saved
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:500])
    with pytest.raises(ModelError, match="corrupt or truncated"):
        load_model(truncated)
    text = tmp_path / "text.pt"
    text.write_text("hello")
    with pytest.raises(ModelError, match="not a readable"):
        load_model(text)
    foreign = tmp_path / "foreign.pt"
    torch.save(build_ccnet(**SMALL).state_dict(), foreign)  # a bare state dict
    with pytest.raises(ModelError, match="not a ccount weights file"):
        load_model(foreign)
    future = tmp_path / "future.pt"
    future.write_bytes(path.read_bytes())
    _resave(future, lambda p: p.update(format="ccount-weights/99"))
    with pytest.raises(ModelError, match="ccount-weights/99"):
        read_meta(future)
    assert issubclass(ModelError, CountError)


def test_meta_dict_round_trip_ignores_unknown_keys():
    meta = _meta()
    d = meta.to_dict() | {"added_in_a_later_version": 1}
    assert ModelMeta.from_dict(d) == meta
    assert dataclasses.replace(meta, metrics={}).metrics == {}


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(DeviceError, match="unknown device"):
        resolve_device("tpu-v5")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            resolve_device("cuda")


def test_model_card_of_the_shipped_weights_names_the_recipe():
    from detector.model.card import render_model_card
    from detector.model.weights import read_meta
    from detector.paths import default_model_path

    path = default_model_path()
    meta = read_meta(path)
    card = render_model_card(path, meta)
    assert file_sha256(path) in card and meta.state_sha256 in card
    snow = float(meta.recipe.get("snow") or 0.0)
    assert ("--snow" in card) == (snow > 0)
    if snow:
        assert f"--snow {snow:g}" in card and f"winter (snow, sea ice) in {snow:.0%}" in card
    plain = dataclasses.replace(meta, recipe={**meta.recipe, "snow": 0.0})
    assert "--snow" not in render_model_card(path, plain)
    assert f"score >= {meta.score_thresh:g} (detect default: calibrated, stored in the file" in card
    # the shipped file also holds the threshold of --tta runs, and the card says so
    assert meta.score_thresh_tta is not None
    assert f"with `--tta` {meta.score_thresh_tta:g}, calibrated the same way" in card
    bare = dataclasses.replace(meta, score_thresh=None, score_thresh_tta=None)  # stores none
    assert "score >= 0.42 (detect default)," in render_model_card(path, bare)
    tuned = dataclasses.replace(meta, score_thresh=0.37, score_thresh_tta=None)
    assert "score >= 0.37 (detect default: calibrated, stored in the file)," in render_model_card(
        path, tuned
    )
