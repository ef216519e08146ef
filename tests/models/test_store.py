"""The model store: test models saved with labels and metadata, the import script after its download,
missing models and engine choice."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import bentoml
import pytest

from model_store_scripts import import_models
from tryon.engines.classical.inpainting_model import INPAINTING_MODEL, tiny_inpainting_pipeline, write_tiny_ip_adapter
from tryon.models.clothes_parser_store import PARSING_MODEL, save_clothes_parser, tiny_clothes_parser
from tryon.models.store import (
    ModelSource,
    MissingModelError,
    declared_model,
    model_tag,
    require_model,
    resolve_engine,
    resolve_engine_runner,
)


def inpainting_engine(setting: str, model: str = INPAINTING_MODEL, **kwargs: bool) -> str:
    return resolve_engine(setting, model, learned="diffusers", classical="opencv", **kwargs).engine


def test_require_model_on_an_empty_store_names_the_import_script(fresh_store: Path) -> None:
    with pytest.raises(MissingModelError) as error:
        require_model(f"{INPAINTING_MODEL}:latest")
    message = str(error.value)
    assert "model_store_scripts/import_models.py" in message
    assert "model_store_scripts/make_test_models.py" in message
    assert str(fresh_store) in message


def test_a_configured_engine_whose_model_is_missing_is_an_error(fresh_store: Path) -> None:
    with pytest.raises(MissingModelError, match="import_models.py"):
        inpainting_engine("diffusers")
    with pytest.raises(MissingModelError, match=f"import_models.py {PARSING_MODEL}"):
        resolve_engine("segformer", PARSING_MODEL, learned="segformer", classical="mediapipe")
    assert inpainting_engine("auto", cuda_available=True) == "opencv"
    assert inpainting_engine("opencv") == "opencv"
    assert model_tag(INPAINTING_MODEL) is None
    assert declared_model(INPAINTING_MODEL) is None  # so `bentoml serve` does not refuse to start


def test_an_engine_runner_loads_its_model_only_when_its_engine_may_be_chosen(fresh_store: Path) -> None:
    assert resolve_engine_runner("classical", "fashn", "tryon-fashn").engine == "none"
    assert resolve_engine_runner("auto", "fashn", "tryon-fashn").engine == "none"  # not in the store
    with pytest.raises(MissingModelError, match="import_models.py tryon-fashn"):
        resolve_engine_runner("fashn", "fashn", "tryon-fashn")


def test_make_test_models_saves_both_models_labelled_as_test_models(test_models: dict) -> None:
    assert set(test_models) == {INPAINTING_MODEL, PARSING_MODEL}
    inpainting = bentoml.models.get(f"{INPAINTING_MODEL}:latest")
    assert inpainting.tag == test_models[INPAINTING_MODEL].tag
    assert inpainting.info.labels["test-model"] == "true"
    assert inpainting.info.labels["ip-adapter"] == "true"
    assert inpainting.info.metadata["pipeline_class"] == "StableDiffusionInpaintPipeline"
    assert {"repo", "revision", "license"} <= set(inpainting.info.metadata["source"])
    assert (Path(inpainting.path) / "model_index.json").is_file()
    assert (Path(inpainting.path) / "ip_adapter" / "image_encoder" / "config.json").is_file()

    parser = bentoml.models.get(f"{PARSING_MODEL}:latest")
    assert parser.info.labels["test-model"] == "true"
    assert parser.info.metadata["id2label"]["4"] == "Upper-clothes"
    assert (Path(parser.path) / "preprocessor_config.json").is_file()
    assert model_tag(PARSING_MODEL) == str(parser.tag)
    assert str(declared_model(PARSING_MODEL).tag) == f"{PARSING_MODEL}:latest"


def test_auto_uses_a_model_only_with_cuda_and_never_a_test_model(test_models: dict) -> None:
    # These machines have no GPU: auto is the classical engine.
    assert inpainting_engine("auto") == "opencv"
    # Test models have random weights: auto never serves them, even with a GPU.
    resolution = resolve_engine("auto", INPAINTING_MODEL, learned="diffusers", classical="opencv", cuda_available=True)
    assert resolution.engine == "opencv" and "test model" in resolution.reason
    # Asked for by name, they are used (tests, benchmarks), GPU or not.
    assert inpainting_engine("diffusers") == "diffusers"
    with pytest.raises(ValueError, match="auto"):
        inpainting_engine("gpu")


def test_auto_uses_a_real_model_when_cuda_is_available(test_models: dict) -> None:
    model, processor = tiny_clothes_parser()
    real = ModelSource("org/parser", "main", "mit", commit="0" * 40)
    save_clothes_parser(model, processor, source=real, name="tryon-auto-probe")
    assert inpainting_engine("auto", "tryon-auto-probe", cuda_available=True) == "diffusers"
    assert inpainting_engine("auto", "tryon-auto-probe", cuda_available=False) == "opencv"


def test_import_dry_run_prints_the_plan_and_downloads_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    import_models.main(["--dry-run"])
    out = capsys.readouterr().out
    assert "stable-diffusion-v1-5/stable-diffusion-inpainting@main" in out
    assert "creativeml-openrail-m" in out
    assert "h94/IP-Adapter" in out
    assert "mattmdjaga/segformer_b2_clothes@main" in out


def test_import_takes_model_or_engine_names_from_the_registry(capsys: pytest.CaptureFixture[str]) -> None:
    import_models.main(["--dry-run", PARSING_MODEL])
    out = capsys.readouterr().out
    assert "mattmdjaga/segformer_b2_clothes@main" in out and "stable-diffusion" not in out
    import_models.main(["--dry-run", "classical"])  # an engine: all its models
    out = capsys.readouterr().out
    assert "mattmdjaga/segformer_b2_clothes@main" in out and "stable-diffusion" in out
    with pytest.raises(SystemExit, match="no model or engine named 'nope'"):
        import_models.main(["--dry-run", "nope"])


def test_import_refuses_non_commercial_checkpoints_unless_allowed() -> None:
    with pytest.raises(SystemExit, match="non-commercial"):
        import_models.main(["--dry-run", "--inpainting-repo", "yisol/IDM-VTON"])
    with pytest.raises(SystemExit, match="non-commercial"):
        import_models.main(["--dry-run", "--parser-license", "cc-by-nc-4.0"])
    import_models.main(["--dry-run", "--inpainting-repo", "yisol/IDM-VTON", "--allow-non-commercial"])


def test_import_saves_what_it_downloaded_with_its_source(
    test_models: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything after the download, with the hub replaced by local files."""
    import diffusers
    import huggingface_hub
    import transformers

    pipe = tiny_inpainting_pipeline()
    adapter = write_tiny_ip_adapter(pipe, tmp_path / "hub" / "models")
    parser_model, processor = tiny_clothes_parser()
    commits = {"stable-diffusion-v1-5/stable-diffusion-inpainting": "a" * 40, "h94/IP-Adapter": "b" * 40,
               "mattmdjaga/segformer_b2_clothes": "c" * 40}  # fmt: skip
    licenses = {"h94/IP-Adapter": "apache-2.0", "mattmdjaga/segformer_b2_clothes": "mit",
                "stable-diffusion-v1-5/stable-diffusion-inpainting": "creativeml-openrail-m"}  # fmt: skip

    def model_info(repo: str, revision: str) -> SimpleNamespace:
        return SimpleNamespace(sha=commits[repo], card_data={"license": licenses[repo]})

    def pipeline_from_pretrained(repo: str, *, revision: str, **kwargs: object) -> object:
        assert (repo, revision) == ("stable-diffusion-v1-5/stable-diffusion-inpainting", "a" * 40)
        return pipe

    monkeypatch.setattr(huggingface_hub, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda repo, name, **kw: str(adapter.weight_file))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: str(tmp_path / "hub"))
    monkeypatch.setattr(diffusers.StableDiffusionInpaintPipeline, "from_pretrained", pipeline_from_pretrained)
    monkeypatch.setattr(
        transformers.SegformerForSemanticSegmentation, "from_pretrained", lambda repo, revision: parser_model
    )
    monkeypatch.setattr(transformers.AutoImageProcessor, "from_pretrained", lambda repo, revision: processor)

    import_models.main(["--dtype", "float32"])

    inpainting = require_model(f"{INPAINTING_MODEL}:latest")
    assert inpainting.tag != test_models[INPAINTING_MODEL].tag
    assert inpainting.info.labels == {
        "task": "inpainting", "framework": "diffusers", "license": "creativeml-openrail-m",
        "test-model": "false", "ip-adapter": "true",
    }  # fmt: skip
    source = inpainting.info.metadata["source"]
    assert source == {"repo": "stable-diffusion-v1-5/stable-diffusion-inpainting", "revision": "main",
                      "license": "creativeml-openrail-m", "commit": "a" * 40}  # fmt: skip
    assert inpainting.info.metadata["ip_adapter"]["commit"] == "b" * 40
    assert (Path(inpainting.path) / "ip_adapter" / adapter.weight_file.name).is_file()
    parser = require_model(f"{PARSING_MODEL}:latest")
    assert parser.info.metadata["source"]["commit"] == "c" * 40
    assert parser.info.labels["license"] == "mit"
    # A real model now: with a GPU, auto would use it.
    assert inpainting_engine("auto", cuda_available=True) == "diffusers"
