"""The README's two commands: a CPU-only install line that cannot fetch CUDA torch, and the test
command that CI runs."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"


def two_commands() -> str:
    return re.search(r"## Two commands\n.*?```bash\n(.*?)```", README, re.S).group(1)


def command(number: int) -> str:
    """The lines of the README's command ``number`` (1 or 2), comments included."""
    return re.split(r"^(?=# 2\. )", two_commands(), flags=re.M)[number - 1]


def commands(block: str) -> list[str]:
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_command_one_offers_a_cpu_line_and_a_gpu_line() -> None:
    install_lines = [line for line in commands(command(1)) if "pip install" in line]
    cpu, gpu = install_lines
    assert CPU_INDEX in cpu and CPU_INDEX not in gpu
    for line in install_lines:
        assert line.startswith("python3 -m venv .venv && ") and line.endswith("bentoml serve --port 8000")


def test_command_one_installs_only_what_serving_needs() -> None:
    """The test extra (Playwright, SeaweedFS, schemathesis) comes with command 2."""
    for line in commands(command(1)):
        assert ".venv/bin/pip install -e . " in line and "[test]" not in line, line
    assert commands(command(2))[0] == '.venv/bin/pip install -e ".[test]"'


def test_the_cpu_index_build_satisfies_the_pin_and_wins_over_the_cuda_build() -> None:
    """The CPU index names its build 2.13.0+cpu; PyPI's Linux wheel of 2.13.0 is the CUDA build."""
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines() if line.startswith("torch")]
    assert pins == ["torch==2.13.0"]
    pinned = SpecifierSet(pins[0].removeprefix("torch"))
    cpu_build, cuda_build = Version("2.13.0+cpu"), Version("2.13.0")
    assert cpu_build in pinned and cuda_build in pinned
    assert cpu_build > cuda_build  # pip installs the highest version that fits: the CPU build


def test_ci_runs_the_readmes_test_command() -> None:
    test_commands = commands(command(2))
    ci = commands((REPO / ".ci" / "run").read_text())
    assert test_commands[-1] == ".venv/bin/python -m pytest"
    assert ci[-len(test_commands) :] == test_commands
