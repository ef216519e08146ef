"""The model store: test models saved with labels and metadata, the import script after its download,
missing models and engine choice."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import bentoml
import pytest

from model_store_scripts import import_models
from tryon.engines.fashn_vton.model_store import FASHN_VTON_MODEL
from tryon.models.clothes_parser_store import CLOTHES_PARSER, PARSING_MODEL, save_clothes_parser, tiny_clothes_parser
from tryon.models.garment_masker_store import GARMENT_MASKER_MODEL, SAM_VIT_BASE_COMMIT
from tryon.models.store import (
    ModelSource,
    MissingModelError,
    declared_model,
    model_tag,
    require_model,
    resolve_engine,
    resolve_engine_runner,
)


def parsing_engine(setting: str, model: str = PARSING_MODEL, **kwargs: bool) -> str:
    return resolve_engine(setting, model, learned="segformer", classical="mediapipe", **kwargs).engine


def test_require_model_on_an_empty_store_names_the_import_script(fresh_store: Path) -> None:
    with pytest.raises(MissingModelError) as error:
        require_model(f"{PARSING_MODEL}:latest")
    message = str(error.value)
    assert "model_store_scripts/import_models.py" in message
    assert "model_store_scripts/make_test_models.py" in message
    assert str(fresh_store) in message


def test_a_configured_engine_whose_model_is_missing_is_an_error(fresh_store: Path) -> None:
    with pytest.raises(MissingModelError, match=f"import_models.py {PARSING_MODEL}"):
        parsing_engine("segformer")
    assert parsing_engine("auto", cuda_available=True) == "mediapipe"
    assert parsing_engine("mediapipe") == "mediapipe"
    assert model_tag(PARSING_MODEL) is None
    assert declared_model(PARSING_MODEL) is None  # so `bentoml serve` does not refuse to start


def test_an_engine_runner_loads_its_model_only_when_its_engine_may_be_chosen(fresh_store: Path) -> None:
    assert resolve_engine_runner("classical", "fashn", "tryon-fashn").engine == "none"
    assert resolve_engine_runner("auto", "fashn", "tryon-fashn").engine == "none"  # not in the store
    with pytest.raises(MissingModelError, match="import_models.py tryon-fashn"):
        resolve_engine_runner("fashn", "fashn", "tryon-fashn")


def test_make_test_models_saves_the_models_labelled_as_test_models(test_models: dict) -> None:
    assert set(test_models) == {PARSING_MODEL, FASHN_VTON_MODEL, GARMENT_MASKER_MODEL}  # every engine's models
    assert bentoml.models.get(f"{FASHN_VTON_MODEL}:latest").info.labels["test-model"] == "true"
    parser = bentoml.models.get(f"{PARSING_MODEL}:latest")
    assert parser.tag == test_models[PARSING_MODEL].tag
    assert parser.info.labels["test-model"] == "true"
    assert parser.info.metadata["model_class"] == "SegformerForSemanticSegmentation"
    assert {"repo", "revision", "license"} <= set(parser.info.metadata["source"])
    assert parser.info.metadata["id2label"]["4"] == "Upper-clothes"
    assert (Path(parser.path) / "preprocessor_config.json").is_file()
    assert model_tag(PARSING_MODEL) == str(parser.tag)
    assert str(declared_model(PARSING_MODEL).tag) == f"{PARSING_MODEL}:latest"


def test_auto_uses_a_model_only_with_cuda_and_never_a_test_model(test_models: dict) -> None:
    # These machines have no GPU: auto is the classical engine.
    assert parsing_engine("auto") == "mediapipe"
    # Test models have random weights: auto never serves them, even with a GPU.
    resolution = resolve_engine("auto", PARSING_MODEL, learned="segformer", classical="mediapipe", cuda_available=True)
    assert resolution.engine == "mediapipe" and "test model" in resolution.reason
    # Asked for by name, they are used (tests, benchmarks), GPU or not.
    assert parsing_engine("segformer") == "segformer"
    with pytest.raises(ValueError, match="auto"):
        parsing_engine("gpu")


def test_auto_uses_a_real_model_when_cuda_is_available(test_models: dict) -> None:
    model, processor = tiny_clothes_parser()
    real = ModelSource("org/parser", "main", "mit", commit="0" * 40)
    save_clothes_parser(model, processor, source=real, name="tryon-auto-probe")
    assert parsing_engine("auto", "tryon-auto-probe", cuda_available=True) == "segformer"
    assert parsing_engine("auto", "tryon-auto-probe", cuda_available=False) == "mediapipe"


def test_import_dry_run_prints_the_plan_and_downloads_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    import_models.main(["--dry-run"])
    out = capsys.readouterr().out
    assert f"{GARMENT_MASKER_MODEL}: facebook/sam-vit-base@{SAM_VIT_BASE_COMMIT}" in out and "license apache-2.0" in out
    # Every model but the non-commercial parser, which is skipped with the reason.
    assert f"skipped {PARSING_MODEL}: mattmdjaga/segformer_b2_clothes is not for commercial use" in out
    assert f"{PARSING_MODEL}: mattmdjaga" not in out.split("would import:")[1]
    import_models.main(["--dry-run", "--allow-non-commercial"])
    assert f"{PARSING_MODEL}: mattmdjaga/segformer_b2_clothes@main" in capsys.readouterr().out


def test_import_takes_model_or_engine_names_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    import_models.main(["--dry-run", "--allow-non-commercial", PARSING_MODEL])
    assert capsys.readouterr().out.splitlines()[1:] == [
        f"{PARSING_MODEL}: mattmdjaga/segformer_b2_clothes@main "
        "(transformers SegformerForSemanticSegmentation (human parsing), license mit)"
    ]
    import_models.main(["--dry-run", "--allow-non-commercial", "classical"])  # an engine: all its models
    assert f"{PARSING_MODEL}: mattmdjaga/segformer_b2_clothes@main" in capsys.readouterr().out
    import_models.main(["--dry-run", GARMENT_MASKER_MODEL])
    assert f"{GARMENT_MASKER_MODEL}: facebook/sam-vit-base@{SAM_VIT_BASE_COMMIT}" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no model or engine named 'nope'"):
        import_models.main(["--dry-run", "nope"])


def test_the_segformer_parser_is_refused_without_the_flag_whatever_its_card_says() -> None:
    with pytest.raises(SystemExit, match=r"segformer_b2_clothes is not for commercial use \(licence: mit / nvidia-segformer-non-commercial\)"):
        import_models.main(["--dry-run", PARSING_MODEL])
    with pytest.raises(SystemExit, match="not for commercial use"):
        import_models.main(["--dry-run", "classical"])
    with pytest.raises(SystemExit, match="not for commercial use"):  # any SegFormer weights
        import_models.main(["--dry-run", PARSING_MODEL, "--parser-repo", "nvidia/mit-b2", "--parser-license", "other"])
    assert not CLOTHES_PARSER.default_source.license.startswith("nvidia")  # the card says MIT...
    assert CLOTHES_PARSER.default_source.base_license == "nvidia-segformer-non-commercial"  # ...its base does not


def test_auto_never_selects_a_non_commercial_model_without_the_setting(test_models: dict) -> None:
    model, processor = tiny_clothes_parser()
    segformer = ModelSource("mattmdjaga/segformer_b2_clothes", "main", "mit", commit="0" * 40)
    stored = save_clothes_parser(model, processor, source=segformer, name="tryon-nc-probe")
    assert stored.info.labels["commercial-use"] == "false"
    resolution = resolve_engine("auto", "tryon-nc-probe", learned="segformer", classical="mediapipe", cuda_available=True)
    assert resolution.engine == "mediapipe" and "TRYON_ALLOW_NON_COMMERCIAL=true" in resolution.reason
    assert parsing_engine("auto", "tryon-nc-probe", cuda_available=True, allow_non_commercial=True) == "segformer"
    assert parsing_engine("segformer", "tryon-nc-probe") == "segformer"  # named explicitly: the operator's choice


def test_the_fashn_runner_loads_no_non_commercial_parser_without_the_setting(test_models: dict) -> None:
    from tryon.engines.fashn_vton.runner import load_parser

    model, processor = tiny_clothes_parser()
    save_clothes_parser(model, processor, source=ModelSource("mattmdjaga/segformer_b2_clothes", "main", "mit"))
    assert load_parser(test_model=True, allow_non_commercial=False) is None
    assert load_parser(test_model=True, allow_non_commercial=True) is not None


def test_import_refuses_non_commercial_checkpoints_unless_allowed() -> None:
    with pytest.raises(SystemExit, match="IDM-VTON is not for commercial use"):
        import_models.main(["--dry-run", PARSING_MODEL, "--parser-repo", "yisol/IDM-VTON"])
    with pytest.raises(SystemExit, match="cc-by-nc-4.0"):
        import_models.main(["--dry-run", PARSING_MODEL, "--parser-license", "cc-by-nc-4.0"])
    import_models.main(["--dry-run", PARSING_MODEL, "--parser-repo", "yisol/IDM-VTON", "--allow-non-commercial"])


def test_import_saves_what_it_downloaded_with_its_source(test_models: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """Everything after the download, with the hub replaced by local objects."""
    import huggingface_hub
    import transformers

    parser_model, processor = tiny_clothes_parser()

    def model_info(repo: str, revision: str) -> SimpleNamespace:
        assert (repo, revision) == ("mattmdjaga/segformer_b2_clothes", "main")
        return SimpleNamespace(sha="c" * 40, card_data={"license": "mit"})

    def parser_from_pretrained(repo: str, revision: str) -> object:
        assert (repo, revision) == ("mattmdjaga/segformer_b2_clothes", "c" * 40)
        return parser_model

    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    monkeypatch.setattr(transformers.SegformerForSemanticSegmentation, "from_pretrained", parser_from_pretrained)
    monkeypatch.setattr(transformers.AutoImageProcessor, "from_pretrained", lambda repo, revision: processor)

    import_models.main([PARSING_MODEL, "--allow-non-commercial"])

    parser = require_model(f"{PARSING_MODEL}:latest")
    assert parser.tag != test_models[PARSING_MODEL].tag
    assert parser.info.labels == {
        "task": "human-parsing", "framework": "transformers", "license": "mit",
        "base-license": "nvidia-segformer-non-commercial", "commercial-use": "false", "test-model": "false",
    }  # fmt: skip
    assert parser.info.metadata["source"] == {
        "repo": "mattmdjaga/segformer_b2_clothes", "revision": "main", "license": "mit", "commit": "c" * 40,
        "notes": CLOTHES_PARSER.default_source.notes, "base_license": "nvidia-segformer-non-commercial",
    }  # fmt: skip
    assert (Path(parser.path) / "preprocessor_config.json").is_file()
    # A real model now, but not for commercial use: with a GPU, auto uses it only when allowed.
    assert parsing_engine("auto", cuda_available=True) == "mediapipe"
    assert parsing_engine("auto", cuda_available=True, allow_non_commercial=True) == "segformer"
