"""The result of one step of an admin action (offboarding, reactivation, deleting a project,
stopping or deleting a set of workspaces): ok, skipped, warning or failed, and why."""
from __future__ import annotations

from dataclasses import dataclass

OK, SKIPPED, WARNING, FAILED = "ok", "skipped", "warning", "failed"


@dataclass(frozen=True)
class StepResult:
    status: str          # OK | SKIPPED | WARNING | FAILED
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAILED
