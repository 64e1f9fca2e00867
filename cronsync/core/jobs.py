"""The jobs.json schema (pydantic v2) and its loader, which reports every problem in one run."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from cronsync.core.errors import Problem, job_label
from cronsync.core.field_errors import did_you_mean, error_message
from cronsync.core.ids import RESERVED_ID, WATCHER_ID, job_id
from cronsync.core.jsontext import format_loc, json_type_name
from cronsync.core.phrases import check_not_words
from cronsync.core.schedule import ScheduleError, check_zone
from cronsync.core.schedule import parse as parse_schedule

MAX_NAME_LENGTH = 200
_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*(?:(\d+)\s*s)?\s*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_duration(value: Any) -> Any:
    """Seconds as a number, or a string such as "90s", "5m", "1h30m"; returns whole seconds."""
    if isinstance(value, bool):  # pydantic's lax mode would take true as 1 second
        raise ValueError(f'{str(value).lower()} is not a duration; use seconds (90) or "90s", "5m", "1h30m"')
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        match = _DURATION.match(text)
        if not text or not match or not any(match.groups()):
            raise ValueError(f'{value!r} is not a duration; use seconds (90) or "90s", "5m", "1h30m"')
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return hours * 3600 + minutes * 60 + seconds
    return value


# The longest duration any field takes: beyond it timers, timeouts and time arithmetic overflow.
MAX_DURATION_SECONDS = 31 * 24 * 3600


def _bounded(seconds: int) -> int:
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"{seconds} seconds is longer than the longest duration allowed, "
            f'31 days ({MAX_DURATION_SECONDS} seconds, "744h")'
        )
    return seconds


_DURATION_FIELD = {"description": "seconds, or '90s', '5m', '1h'", "le": MAX_DURATION_SECONDS}
Duration = Annotated[
    int, BeforeValidator(parse_duration), AfterValidator(_bounded), Field(ge=0, **_DURATION_FIELD)
]
PositiveDuration = Annotated[
    int, BeforeValidator(parse_duration), AfterValidator(_bounded), Field(gt=0, **_DURATION_FIELD)
]


# execve(2) refuses one argument or variable over MAX_ARG_STRLEN (32 pages: 131072 bytes with its NUL), and
# systemd cannot even start cronsync for a unit holding such a variable: refuse it here, with the reason.
MAX_EXEC_STRING_BYTES = 131071
# all arguments plus all variables together; the kernel's limit (a quarter of the stack limit, 2 MiB by
# default) must also hold the inherited environment
MAX_EXEC_TOTAL_BYTES = 1024 * 1024


def _fits_exec(what: str, value: str) -> None:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_EXEC_STRING_BYTES:
        raise ValueError(
            f"{what} is {size} bytes; the kernel refuses one argument or variable over "
            f"{MAX_EXEC_STRING_BYTES} bytes: pass large data in a file under USER/"
        )


def _fits_exec_in_all(what: str, values: list[str]) -> None:
    size = sum(len(value.encode("utf-8", "surrogatepass")) + 1 for value in values)
    if size > MAX_EXEC_TOTAL_BYTES:
        raise ValueError(
            f"{what} add up to {size} bytes; keep them under {MAX_EXEC_TOTAL_BYTES} bytes "
            "(the kernel limits a command's arguments and environment): pass large data in a file"
        )


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    lone = next((ch for ch in value if "\ud800" <= ch <= "\udfff"), None)
    if lone is not None:  # JSON allows "\ud800" alone; no file, argument or message can hold it
        raise ValueError(
            f"contains a lone surrogate \\u{ord(lone):04x}, which is not a character; "
            "write the character itself, or a JSON surrogate pair"
        )
    return value


Text = Annotated[str, BeforeValidator(lambda v: _no_nul(v) if isinstance(v, str) else v)]
GatewayName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=64)]


class StrictModel(BaseModel):
    # strict: JSON's types as written ("enabled": "yes" is an error, as the JSON Schema says)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Notify(StrictModel):
    """When to send a run's result, and to which gateways (named in settings.json)."""

    on: Literal["always", "failure", "output", "never", "change"] = "failure"
    gateways: list[GatewayName] = Field(default_factory=list)


class ScriptPayload(StrictModel):
    path: Text = Field(description="script under USER/scripts, e.g. scripts/clean_tmp.py")
    args: list[Text] = Field(default_factory=list)
    env: dict[str, Text] = Field(default_factory=dict)
    working_dir: Text | None = None
    timeout: PositiveDuration | None = None

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [name for name in env if not _ENV_NAME.match(name)]
        if bad:
            raise ValueError(
                f"invalid variable name(s) {bad}; use letters, digits and _, not starting with a digit"
            )
        for name, value in env.items():
            _fits_exec(f"{name}=...", f"{name}={value}")
        _fits_exec_in_all("the variables", [f"{name}={value}" for name, value in env.items()])
        return env

    @field_validator("args")
    @classmethod
    def _args_fit(cls, args: list[str]) -> list[str]:
        for number, arg in enumerate(args):
            _fits_exec(f"argument #{number}", arg)
        _fits_exec_in_all("the arguments", args)
        return args


class AgentPayload(StrictModel):
    prompt: Text = Field(min_length=1)
    output: GatewayName | None = Field(default=None, description="gateway that receives the answer")
    context: list[Text | list[Text]] = Field(
        default_factory=list, description="commands whose output is given to the model with the prompt"
    )
    model: Text | None = None
    timeout: PositiveDuration | None = None


class JobBase(StrictModel):
    name: Text = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    cron: Text = Field(description='a cron expression, e.g. "0 9 * * 1-5" or "@daily"')
    enabled: bool = True
    description: Text | None = None
    timezone: Text | None = Field(default=None, description="IANA time zone, e.g. Europe/Berlin")
    persistent: bool = Field(default=True, description="run a missed run at the next start")
    random_delay: Duration = 0
    accuracy: PositiveDuration = 1
    timeout: PositiveDuration | None = None
    overlap: Literal["skip", "queue"] = "skip"
    notify: Notify | None = None
    healthcheck: Text | None = Field(
        default=None,
        description='ping URL of a healthchecks.io-style check, e.g. "https://hc-ping.com/${HC_UUID}"',
    )

    @field_validator("healthcheck")
    @classmethod
    def _ping_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("https://", "http://")):
            raise ValueError(
                'must be an http:// or https:// URL, e.g. "https://hc-ping.com/${HC_UUID}" (${VAR} from '
                "secrets.env or the environment)"
            )
        if url is not None and any(ch.isspace() for ch in url):
            raise ValueError("must not contain white space")
        return url

    @field_validator("name")
    @classmethod
    def _one_printable_line(cls, name: str) -> str:
        bad = sorted({repr(ch) for ch in name if not ch.isprintable()})
        if bad:
            raise ValueError(
                f"must be one line of printable text; found control character(s) {', '.join(bad)}"
            )
        if name != name.strip():
            raise ValueError("must not start or end with white space")
        if not job_id(name):
            raise ValueError("must contain at least one ASCII letter or digit (the job id is made from it)")
        if job_id(name) == WATCHER_ID:
            raise ValueError(RESERVED_ID)
        return name

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        try:
            check_not_words(cron)
            parse_schedule(cron)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str | None) -> str | None:
        if zone is None:
            return None
        try:
            check_zone(zone)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return zone

    @property
    def id(self) -> str:
        return job_id(self.name)

    def effective_notify(self) -> Notify:
        return self.notify or Notify()

    def effective_timeout(self) -> int | None:
        return self.timeout


class ScriptJob(JobBase):
    action: Literal["script"]
    payload: ScriptPayload

    def effective_timeout(self) -> int | None:
        return self.payload.timeout or self.timeout


class AgentJob(JobBase):
    action: Literal["agent_workflow"]
    payload: AgentPayload

    def effective_timeout(self) -> int | None:
        return self.payload.timeout or self.timeout

    def effective_notify(self) -> Notify:
        """`payload.output: "telegram"` is shorthand for sending the answer to that gateway."""
        notify = self.notify
        if self.payload.output is None:
            return notify or Notify()
        if notify is None:
            return Notify(on="always", gateways=[self.payload.output])
        gateways = list(dict.fromkeys([*notify.gateways, self.payload.output]))
        return Notify(on=notify.on, gateways=gateways)


Job = Annotated[ScriptJob | AgentJob, Field(discriminator="action")]
_JOB = TypeAdapter(Job)
JOBS_FILE_ADAPTER = TypeAdapter(list[Job])
ACTIONS = ("script", "agent_workflow")


def jobs_json_schema() -> dict[str, Any]:
    schema = JOBS_FILE_ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cronsync jobs.json"
    return schema


def _describe_error(err: Any) -> str:
    kind = err["type"]
    if kind == "union_tag_invalid":
        action = err["input"].get("action")
        hint = did_you_mean(action, ACTIONS) if isinstance(action, str) else ""
        return f"unknown action {action!r}{hint or '; expected one of: ' + ', '.join(ACTIONS)}"
    if kind == "union_tag_not_found":
        return f"missing 'action'; expected one of: {', '.join(ACTIONS)}"
    if kind == "model_attributes_type" and not err["loc"]:
        found = json_type_name(err["input"])
        return f'each job must be a JSON object such as {{"name": ..., "cron": ..., ...}}, found {found}'
    return error_message(err, Job)


def _job_problems(file: str, index: int, raw: Any, exc: ValidationError) -> list[Problem]:
    name = raw.get("name") if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        if loc and loc[0] in ACTIONS:  # drop the discriminator tag pydantic puts first
            loc = loc[1:]
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = ["action"]  # pydantic locates a bad discriminator at the job itself
        problems.append(
            Problem(file, _describe_error(err), job_index=index, job_name=name, field=format_loc(loc) or None)
        )
    return problems


def validate_jobs_data(data: Any, file: str) -> tuple[list[ScriptJob | AgentJob], list[Problem]]:
    """Validate each job on its own so that one bad job does not hide the others' problems."""
    if not isinstance(data, list):
        return [], [Problem(file, _not_an_array_message(data))]
    jobs: list[ScriptJob | AgentJob] = []
    problems: list[Problem] = []
    for index, raw in enumerate(data):
        try:
            jobs.append(_JOB.validate_python(raw))
        except ValidationError as exc:
            problems.extend(_job_problems(file, index, raw, exc))
    problems.extend(_duplicate_problems(file, data))
    return jobs, problems


def _not_an_array_message(data: Any) -> str:
    message = f"jobs.json must be a JSON array of jobs, found {json_type_name(data)}"
    if isinstance(data, dict) and "name" in data:
        return f"{message}; for one job write [ {{...}} ], the job inside square brackets"
    return f'{message}: write [ {{"name": ..., "cron": ..., ...}}, ... ]'


def _duplicate_problems(file: str, data: list[Any]) -> list[Problem]:
    problems = []
    seen_names: dict[str, int] = {}
    seen_ids: dict[str, tuple[int, str]] = {}
    for index, raw in enumerate(data):
        name = raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not job_id(name):
            continue
        if name in seen_names:
            problems.append(
                Problem(
                    file,
                    f"duplicate name; {job_label(seen_names[name])} has the same name",
                    index,
                    name,
                    "name",
                )
            )
            continue
        seen_names[name] = index
        ident = job_id(name)
        if ident in seen_ids:
            other_index, other_name = seen_ids[ident]
            problems.append(
                Problem(
                    file,
                    f"its id {ident!r} is the same as {job_label(other_index)} ({other_name!r}); rename one",
                    index,
                    name,
                    "name",
                )
            )
            continue
        seen_ids[ident] = (index, name)
    return problems
