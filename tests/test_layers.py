"""Every module of ``tryon/`` (and of ``runners/``, beside ``service.py``) sits in one layer, and the
import graph runs down the layers, with no arrow back up and none across one level:

    clients -> doctor | service -> runners -> api -> results -> jobs -> engines -> vision -> models -> base

The base is the few top-level modules every layer may use (``tryon/settings.py``, ``errors.py``,
``images.py``, ``guarded_http.py``, ``library_internals.py``); a new module goes into a layer's package, or into ``BASE``
here when every layer needs it. Engines do not reach into each other (only the registry imports
them). The API process imports no model framework: only an engine's runners load torch, diffusers
or transformers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tryon"
SOURCES = (PACKAGE, REPO / "runners")
# Top to bottom; a module may import its own package and those of the levels below it, never one of
# its own level or above.
LAYERS = (
    ("tryon.clients",),  # the `tryon` command and the Python client of the HTTP API
    ("tryon.doctor", "tryon.service"),  # `tryon doctor` (in process, no server); the entry service's parts
    ("runners",),  # the runner services as the entry service sees them: dependencies, calls, GPUs
    ("tryon.api",),  # HTTP: routes, shapes, admission, /health
    ("tryon.results",),  # a finished job's picture (job store or S3) and its webhook
    ("tryon.jobs",),  # job records, the job stores, the worker pool, the job metrics
    ("tryon.engines",),  # the engine interface, the registry, one folder per engine
    ("tryon.vision",),  # image science the engines share
    ("tryon.models",),  # model code and the model store
)
BASE = ("tryon.settings", "tryon.errors", "tryon.images", "tryon.guarded_http", "tryon.library_internals")
MODEL_FRAMEWORKS = ("torch", "diffusers", "transformers")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> list[Path]:
    return sorted(path for folder in SOURCES for path in folder.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the ``tryon`` and ``runners`` modules ``path`` imports (relative imports
    resolved; a name imported from a module counts as that module's)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            target = ".".join(part for part in (base, node.module) if part)
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in ("tryon", "runners")}


def layer_of(module: str) -> tuple[int, str] | None:
    """(level, package) of ``module``; the base (``tryon`` itself, ``BASE`` and the engines' settings
    modules) is one package, below every level."""
    if is_engine_settings(module):
        return len(LAYERS), "base"
    for level, packages in enumerate(LAYERS):
        for package in packages:
            if module == package or module.startswith(package + "."):
                return level, package
    if module == "tryon" or any(module == name or module.startswith(name + ".") for name in BASE):
        return len(LAYERS), "base"
    return None


def is_engine_settings(module: str) -> bool:
    """An engine's knobs (``tryon/engines/<engine>/settings.py``): they live with the engine, and the
    one settings object (``tryon/settings.py``) reads them, so they count as base and import only the base."""
    parts = module.split(".")
    return len(parts) >= 4 and parts[:2] == ["tryon", "engines"] and parts[3] == "settings"


def test_every_module_is_in_a_layer() -> None:
    homeless = [str(path.relative_to(REPO)) for path in source_files() if layer_of(module_name(path)) is None]
    assert not homeless, "in no layer (move it into a layer's package, or name it in LAYERS or BASE): " + ", ".join(homeless)


def test_no_layer_imports_a_layer_above_it_or_beside_it() -> None:
    wrong = []
    for path in source_files():
        own = layer_of(module_name(path))
        for module in imported_modules(path):
            other = layer_of(module)
            if own is None or other is None:
                continue
            if other[0] < own[0] or (other[0] == own[0] and other[1] != own[1]):
                wrong.append(f"{path.relative_to(REPO)} imports {module}")
    assert not wrong, "\n".join(wrong)


def test_engines_do_not_reach_into_each_other() -> None:
    engines = PACKAGE / "engines"
    folders = {path.name for path in engines.iterdir() if path.is_dir() and (path / "__init__.py").is_file()}
    crossing = []
    for path in engines.rglob("*.py"):
        own = path.relative_to(engines).parts[0]
        if own == "registry.py":
            continue
        for module in imported_modules(path):
            parts = module.split(".")
            if len(parts) > 2 and parts[1] == "engines" and parts[2] in folders and parts[2] != own:
                crossing.append(f"{path.relative_to(REPO)} imports {module}")
    assert not crossing, "\n".join(crossing)


def test_the_engine_interface_imports_no_web_or_serving_framework() -> None:
    source = (PACKAGE / "engines" / "base.py").read_text()
    modules = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert not modules & {"fastapi", "bentoml", "starlette", "_bentoml_impl"}, modules


def test_the_api_process_imports_no_model_framework() -> None:
    """What ``bentoml serve`` imports for the entry service (the service module, with every engine's
    registry row, runner classes and adapter), in a fresh interpreter."""
    script = (
        "import json, sys; import service, tryon.api, tryon.jobs; "
        f"print(json.dumps(sorted(set({MODEL_FRAMEWORKS!r}) & set(sys.modules))))"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == [], "the API process imports a model framework"


def test_the_shared_vision_parts_import_no_model_framework() -> None:
    """Every ``tryon.vision`` module, in a fresh interpreter: any engine's adapter (in the API process)
    may import them, so torch, diffusers and transformers load only where a function asks for them."""
    modules = sorted(f"tryon.vision.{path.stem}" for path in (PACKAGE / "vision").glob("*.py") if path.stem != "__init__")
    script = (
        f"import json, sys, importlib; [importlib.import_module(m) for m in {modules!r}]; "
        f"print(json.dumps(sorted(set({MODEL_FRAMEWORKS!r}) & set(sys.modules))))"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == [], "a tryon.vision module imports a model framework"
