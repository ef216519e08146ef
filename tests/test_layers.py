"""The import graph runs api -> jobs -> engines -> vision -> models, with no arrow back up, and engines do not
reach into each other (only the registry imports them). The API process imports no model framework:
only an engine's runners load torch, diffusers or transformers."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tryon"
LAYERS = ("api", "jobs", "engines", "vision", "models")  # each may import those after it, never those before
MODEL_FRAMEWORKS = ("torch", "diffusers", "transformers")


def imported_modules(path: Path) -> set[str]:
    """Absolute names of the ``tryon`` modules ``path`` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(REPO).with_suffix("").parts)
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
    return {name for name in names if name.startswith("tryon.")}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_no_layer_imports_a_layer_above_it() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        own = layer_of(".".join(path.relative_to(REPO).with_suffix("").parts))
        if own is None:
            continue
        for module in imported_modules(path):
            other = layer_of(module)
            if other is not None and LAYERS.index(other) < LAYERS.index(own):
                upward.append(f"{path.relative_to(REPO)} imports {module}")
    assert not upward, "\n".join(upward)


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
