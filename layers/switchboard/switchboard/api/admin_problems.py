"""What the admin APIs (SLA rules, notification rules) answer when a body is not valid or a save keeps losing its
race: every problem found, each with its place in the body, never only the first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from switchboard.errors import InvalidRequest, SwitchboardError

MAX_LISTED_PROBLEMS = 100


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a body, and where: the path of keys and indexes into the JSON sent ([] for all of it)."""

    loc: tuple[str | int, ...]
    msg: str

    def as_json(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "msg": self.msg}


class InvalidRules(InvalidRequest):
    """400 with every problem found, each with its location (`errors`)."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = problems[:MAX_LISTED_PROBLEMS]
        first = shown[0] if shown else Problem((), "the body is not valid")
        where = ".".join(map(str, first.loc)) or "body"
        more = f" ({len(problems) - len(shown)} more not listed)" if len(problems) > len(shown) else ""
        super().__init__(f"{len(problems)} problem(s), each in `errors`; the first: {where}: {first.msg}{more}"[:1000])
        self.details["errors"] = [problem.as_json() for problem in shown]


class RulesBusy(SwitchboardError):
    status_code = 409
    code = "conflict"
