"""The jobs.json schema (pydantic v2) and its loader, which reports every problem in one run."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from cronsync.core.chains import chain_problems
from cronsync.core.errors import Problem, job_label
from cronsync.core.field_errors import did_you_mean, error_message
from cronsync.core.fieldtypes import (
    ENV_NAME,
    MAX_NAME_LENGTH,
    Duration,
    GatewayName,
    HostName,
    JobName,
    PositiveDuration,
    StrictModel,
    Text,
    fits_exec,
    fits_exec_in_all,
)
from cronsync.core.ids import RESERVED_ID, WATCHER_ID, job_id
from cronsync.core.jsontext import format_loc, json_type_name
from cronsync.core.phrases import check_not_words
from cronsync.core.policies import Limits, Retries
from cronsync.core.schedule import ScheduleError, check_zone
from cronsync.core.schedule import parse as parse_schedule

_GROUP_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")


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
        bad = [name for name in env if not ENV_NAME.match(name)]
        if bad:
            raise ValueError(
                f"invalid variable name(s) {bad}; use letters, digits and _, not starting with a digit"
            )
        for name, value in env.items():
            fits_exec(f"{name}=...", f"{name}={value}")
        fits_exec_in_all("the variables", [f"{name}={value}" for name, value in env.items()])
        return env

    @field_validator("args")
    @classmethod
    def _args_fit(cls, args: list[str]) -> list[str]:
        for number, arg in enumerate(args):
            fits_exec(f"argument #{number}", arg)
        fits_exec_in_all("the arguments", args)
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
    cron: Text | None = Field(
        default=None,
        description='a cron expression, e.g. "0 9 * * 1-5" or "@daily"; may be left out given "after"',
    )
    enabled: bool = True
    description: Text | None = None
    timezone: Text | None = Field(default=None, description="IANA time zone, e.g. Europe/Berlin")
    persistent: bool = Field(default=True, description="run a missed run at the next start")
    random_delay: Duration = 0
    accuracy: PositiveDuration = 1
    timeout: PositiveDuration | None = None
    overlap: Literal["skip", "queue", "replace"] = "skip"
    retries: Retries | None = None
    group: GatewayName | None = Field(default=None, description='a group of settings.json "groups"')
    notify: Notify | None = None
    hosts: list[HostName] | None = Field(
        default=None,
        min_length=1,
        description="only these machines (settings.json fleet.host) install the job; absent: every machine",
    )
    run_on: Literal["each", "one"] = Field(
        default="each", description='"one": exactly one of the job\'s hosts runs each scheduled time (etcd)'
    )
    healthcheck: Text | None = Field(
        default=None,
        description='ping URL of a healthchecks.io-style check, e.g. "https://hc-ping.com/${HC_UUID}"',
    )
    after: list[JobName] = Field(
        default_factory=list, description="run this job when a run of each named job succeeds"
    )
    on_failure: list[JobName] = Field(
        default_factory=list, description="the jobs to run when a run of this one fails or times out"
    )
    limits: Limits | None = Field(default=None, description="what the job's processes may use")

    @field_validator("retries", mode="before")
    @classmethod
    def _retries_object(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise ValueError(
                f'must be an object such as {{"count": 3, "delay": "30s", "backoff": 2}}, found '
                f"{json_type_name(value)}"
            )
        return value

    @field_validator("group", mode="before")
    @classmethod
    def _group_name(cls, value: Any) -> Any:
        if isinstance(value, str) and not _GROUP_NAME.match(value):
            raise ValueError(
                f"{value!r} is not a group name: use letters, digits, _, . and - (up to 64, not starting "
                'with . or -), as in settings.json "groups"'
            )
        return value

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
    def _valid_cron(cls, cron: str | None) -> str | None:
        if cron is None:
            return None  # then "after" must be given: core/chains.py says so, with the field
        try:
            check_not_words(cron)
            parse_schedule(cron)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return cron

    @field_validator("hosts")
    @classmethod
    def _distinct_hosts(cls, hosts: list[str] | None) -> list[str] | None:
        if hosts is not None:
            twice = sorted({host for host in hosts if hosts.count(host) > 1})
            if twice:
                raise ValueError(f"lists {', '.join(map(repr, twice))} more than once; name each host once")
        return hosts

    @field_validator("run_on")
    @classmethod
    def _one_needs_calendar(cls, run_on: str, info: ValidationInfo) -> str:
        cron = info.data.get("cron", "")  # absent when cron itself was refused
        if run_on == "one" and cron is None:
            raise ValueError(
                '"one" needs a "cron" of its own to claim each scheduled time: a job that runs only '
                '"after" others runs where they ran; give it a cron, or use "each"'
            )
        if run_on == "one" and isinstance(cron, str) and cron:
            schedule = parse_schedule(cron)
            if schedule.is_reboot or schedule.is_every:
                raise ValueError(
                    f'"one" needs times of the calendar to claim, and {cron!r} has none (@reboot and '
                    '@every count on each machine\'s own clock); use a cron expression, or "each"'
                )
        return run_on

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
    problems.extend(chain_problems(file, data, ACTIONS))
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
