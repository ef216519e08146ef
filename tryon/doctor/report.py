"""What each check of ``tryon doctor`` finds, and the report they make: a table for a person, JSON for a file."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What ``--only`` may pick: the report's sections, in the order they run.
SECTIONS = ("environment", "models", "numerics", "sampling", "oom", "seeds", "pose", "tryon")


class Status(str, enum.Enum):
    """``fail`` makes the command exit non-zero; ``warn`` is worth reading; ``skipped`` did not run."""

    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One line of the report: ``name`` (e.g. ``sampling eager``), its status, a one-line reason, and
    the figures behind it (JSON values: numbers, strings, lists, nested dicts)."""

    name: str
    status: Status
    reason: str
    figures: dict[str, Any] = field(default_factory=dict)
    section: str = ""  # of SECTIONS, set by the run
    seconds: float = 0.0  # what the check took, set by the run

    def as_json(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "name": self.name,
            "status": self.status.value,
            "reason": self.reason,
            "figures": self.figures,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class Report:
    """Every check in the order it ran, the seconds the whole run took, when (UTC, ISO 8601) and with what options."""

    checks: tuple[Check, ...]
    seconds: float
    started_at: str
    options: dict[str, Any]

    @property
    def failed(self) -> bool:
        return any(check.status is Status.FAIL for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": not self.failed,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 2),
            "options": self.options,
            "checks": [check.as_json() for check in self.checks],
        }

    def write_json(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n")


NAME_WIDTH = 26
TABLE_HEADER = f"{'status':7}  {'check':{NAME_WIDTH}}  reason"


def table_line(check: Check) -> str:
    """``STATUS  CHECK  REASON``, columns as ``TABLE_HEADER``'s; the figures are in the JSON."""
    return f"{check.status.value:7}  {check.name:{NAME_WIDTH}}  {check.reason}"


def summary(checks: Iterable[Check]) -> str:
    """``3 ok, 1 warn, 0 fail, 2 skipped``."""
    checks = list(checks)
    return ", ".join(f"{sum(check.status is status for check in checks)} {status.value}" for status in Status)


def plural(count: int, noun: str) -> str:
    """``1 step``, ``2 steps``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
