"""Validation problems, collected so that one run reports all of them."""

from __future__ import annotations

from dataclasses import dataclass

from cronsync import INVALID, CronsyncError


def job_label(index: int) -> str:
    """How messages name the job at a 0-based position of jobs.json: people count from 1."""
    return f"job #{index + 1}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where it is and what would be right."""

    file: str
    message: str
    job_index: int | None = None
    job_name: str | None = None
    field: str | None = None
    line: int | None = None
    column: int | None = None

    def where(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts[0] += f":{self.line}:{self.column or 0}"
        if self.job_index is not None:
            label = job_label(self.job_index)
            if self.job_name:
                label += f" ({self.job_name!r})"
            parts.append(label)
        if self.field:
            parts.append(f"field {self.field!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "job_index": self.job_index,
            "job_name": self.job_name,
            "field": self.field,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


class InvalidInput(CronsyncError):
    """Raised with every problem found, never only the first."""

    exit_code = INVALID

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems
