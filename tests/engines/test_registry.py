"""The registry: the one list of engines, how the API picks one from its runners' answers, and the
deploy manifests running exactly the runners it lists."""

from __future__ import annotations

import pytest
import yaml

from runners import runner_services
from tests.e2e.served import REPO
from tryon.engines import registry
from tryon.engines.base import EngineDescription, EngineSpec
from tryon.engines.registry import EngineUnavailable, choose_engine

API_SERVICE = "TryOnService"


class Described:
    """An adapter whose runners answer ``available`` / ``test_model``."""

    def __init__(self, name: str, *, available: bool = True, test_model: bool = False) -> None:
        self.name = name
        self.available = available
        self.test_model = test_model
        self.asked = 0

    def describe(self) -> EngineDescription:
        self.asked += 1
        reason = "ready" if self.available else f"{self.name}: model not in the store"
        return EngineDescription(
            engine=self.name, available=self.available, reason=reason, test_model=self.test_model, steps={}
        )


def test_auto_takes_the_first_available_engine_that_serves_a_real_model() -> None:
    built = {
        "gpu_model": Described("gpu_model", available=False),
        "random_weights": Described("random_weights", test_model=True),
        "classical": Described("classical"),
    }
    engine, description = choose_engine("auto", built)
    assert engine is built["classical"] and description.engine == "classical"
    assert description.passed_over == {  # what /health shows as engines_passed_over
        "gpu_model": "gpu_model: model not in the store",
        "random_weights": "test model (ready)",
    }

    built["gpu_model"].available = True
    assert choose_engine("auto", built)[0] is built["gpu_model"]
    assert built["classical"].asked == 1  # not asked once an engine before it was chosen


def test_an_engine_named_explicitly_must_be_available(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_engines", [EngineSpec("gpu_model", "", (), build=None), *registry.engines()])
    built = {"gpu_model": Described("gpu_model", available=False), "classical": Described("classical")}

    with pytest.raises(EngineUnavailable, match="TRYON_ENGINE=gpu_model.*model not in the store"):
        choose_engine("gpu_model", built)
    with pytest.raises(ValueError, match="one of gpu_model, fashn-vton, classical; got 'nope'"):
        choose_engine("nope", built)
    assert choose_engine("classical", built)[0] is built["classical"]


def test_registered_engines_go_before_classical_and_names_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_engines", list(registry.engines()))
    registry.register(EngineSpec("new", "", (), build=None))
    assert registry.engine_names() == ("fashn-vton", "new", "classical")
    with pytest.raises(ValueError, match="already registered"):
        registry.register(EngineSpec("classical", "", (), build=None))


def test_models_are_picked_by_model_or_engine_name() -> None:
    assert [model.name for model in registry.stored_models()] == ["fashn-vton", "tryon-garment-masker", "tryon-clothes-parser"]
    assert [model.name for model in registry.stored_models(["classical"])] == ["tryon-clothes-parser"]
    assert [model.name for model in registry.stored_models(["tryon-clothes-parser"])] == ["tryon-clothes-parser"]
    with pytest.raises(ValueError, match="no model or engine named 'x'"):
        registry.stored_models(["x"])


def kubernetes_deployments() -> dict[str, list[str]]:
    """BentoML service name -> the container args of the Deployment that runs it."""
    served = {}
    for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "Deployment":
                args = doc["spec"]["template"]["spec"]["containers"][0]["args"]
                served[args[args.index("--service-name") + 1]] = args
    return served


def test_the_deploy_manifests_run_the_registered_runners_and_no_others() -> None:
    runners = {runner.name for runner in runner_services()}
    deployments = kubernetes_deployments()
    assert set(deployments) == runners | {API_SERVICE}
    api_args = deployments[API_SERVICE]
    depends = {api_args[i + 1].split("=")[0] for i, arg in enumerate(api_args) if arg == "--depends"}
    assert depends == runners

    bentocloud = yaml.safe_load((REPO / "deploy" / "bentocloud.yaml").read_text())
    assert set(bentocloud["services"]) == runners | {API_SERVICE}
