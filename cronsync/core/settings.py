"""The settings.json schema: gateways, the agent backend, logging and hooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, field_validator, model_validator

from cronsync.core.field_errors import did_you_mean, error_message
from cronsync.core.fieldtypes import Duration, GatewayName, HostName, PositiveDuration, StrictModel, Text
from cronsync.core.health import HOUR_STEPS, MINUTE_STEPS
from cronsync.core.jsontext import json_type_name

MiB = 1024 * 1024
HOOK_TIMEOUT_SECONDS = 10
MAX_GROUP_SIZE = 64  # a run tries each of a group's slots (one lock file each)


class OpenAIBackend(StrictModel):
    """Any OpenAI-compatible chat-completions endpoint: hosted APIs, Ollama, llama.cpp, vLLM."""

    backend: Literal["openai"]
    base_url: Text = Field(description="e.g. http://127.0.0.1:11434/v1")
    model: Text
    api_key_env: Text | None = Field(default=None, description="environment variable holding the API key")
    timeout: PositiveDuration = 120
    retries: int = Field(default=3, ge=0, le=10)
    system_prompt: Text | None = None


class CommandBackend(StrictModel):
    """Any CLI that reads the prompt on stdin and answers on stdout (`llm`, `ollama run MODEL`)."""

    backend: Literal["command"]
    command: list[Text] = Field(min_length=1, description='argv, e.g. ["ollama", "run", "llama3"]')
    timeout: PositiveDuration = 300


AgentBackend = Annotated[OpenAIBackend | CommandBackend, Field(discriminator="backend")]


class LogSettings(StrictModel):
    max_bytes: int = Field(default=5 * MiB, ge=4096, description="rotate scheduler.log at this size")
    keep: int = Field(default=3, ge=0, le=100, description="rotated files to keep")
    capture_bytes: int = Field(default=64 * 1024, ge=1024, description="output kept per run (head and tail)")
    excerpt_bytes: int = Field(default=2048, ge=0, description="output excerpt stored in each log entry")


class HookSettings(StrictModel):
    job_completed: list[Text] | None = Field(
        default=None, description="argv run with the event JSON on stdin"
    )
    timeout: PositiveDuration = Field(
        default=HOOK_TIMEOUT_SECONDS,
        description="stop a hook (its whole process group) that runs longer than this",
    )


class WatchSettings(StrictModel):
    """The watchdog: `cronsync watch` on a timer (or crontab entry), notifying these gateways."""

    gateways: list[GatewayName] = Field(default_factory=list, description="told when a job goes wrong")
    every: PositiveDuration = Field(default=3600, description="how often it checks, e.g. '15m', '1h'")

    @field_validator("every")
    @classmethod
    def _even(cls, every: int) -> int:
        minutes, rest = divmod(every, 60)
        if rest == 0 and (minutes in MINUTE_STEPS or (minutes % 60 == 0 and minutes // 60 in HOUR_STEPS)):
            return every
        raise ValueError(
            f"{every} seconds cannot be scheduled evenly on a cron schedule; use minutes that divide an "
            'hour ("1m", "2m", "5m", "10m", "15m", "20m", "30m") or hours that divide a day ("1h", "2h", '
            '"3h", "4h", "6h", "8h", "12h", "24h")'
        )


class HealthchecksSettings(StrictModel):
    """Provisioning: `apply` creates or updates one check per job through healthchecks' Management API v3."""

    api_url: Text = Field(default="https://healthchecks.io/api/v3/", description="Management API base URL")
    api_key_env: Text = Field(description="variable (environment or secrets.env) holding the API key")


class FleetSettings(StrictModel):
    """Several machines, one jobs.json: `run_on: "one"` jobs claim each scheduled time in etcd."""

    etcd: list[Text] = Field(min_length=1, description='etcd client URLs, e.g. ["http://10.0.0.2:2379"]')
    host: HostName | None = Field(default=None, description="this machine's name (default: its hostname)")
    prefix: Text = Field(default="/cronsync", description="the etcd key prefix cronsync's keys live under")
    when_unreachable: Literal["skip", "run"] = Field(
        default="skip", description='etcd down: "skip" (never run twice) or "run" (never miss)'
    )
    failover_delay: Duration = Field(
        default=10, description="how long each host after the first in a job's hosts waits before claiming"
    )
    lease_ttl: PositiveDuration = Field(
        default=10, description="a running job's lease: its host kills the job when it cannot renew it"
    )
    timeout: PositiveDuration = Field(default=2, description="each request to etcd, at most")
    cacert: Text | None = Field(default=None, description="CA bundle that signed etcd's certificates")
    cert: Text | None = Field(default=None, description="client certificate (etcd's --client-cert-auth)")
    key: Text | None = Field(default=None, description="the client certificate's private key")
    user: Text | None = Field(default=None, description="etcd user (etcd's --auth)")
    password_env: Text | None = Field(
        default=None, description="variable (environment or secrets.env) holding the etcd user's password"
    )

    @field_validator("etcd")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")) or not url.partition("://")[2].strip("/"):
                raise ValueError(
                    f"{url!r} is not an etcd client URL; write http://HOST:2379 or https://HOST:2379"
                )
        return urls

    @field_validator("prefix")
    @classmethod
    def _absolute(cls, prefix: str) -> str:
        if not prefix.startswith("/") or prefix.endswith("/") or any(ch.isspace() for ch in prefix):
            raise ValueError(
                f"{prefix!r} is not a key prefix: start it with / and end it without one, with no white "
                'space, e.g. "/cronsync"'
            )
        return prefix

    @model_validator(mode="after")
    def _password_needs_user(self) -> FleetSettings:
        if (self.user is None) != (self.password_env is None):
            raise ValueError("user and password_env go together: give both, or neither")
        if (self.cert is None) != (self.key is None):
            raise ValueError("cert and key go together: give both, or neither")
        return self


class Settings(StrictModel):
    gateways: dict[GatewayName, list[Text]] = Field(
        default_factory=dict, description="gateway name -> apprise URLs; ${VAR} is expanded at run time"
    )
    agent: AgentBackend | None = None
    log: LogSettings = Field(default_factory=LogSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    python: Text | None = Field(default=None, description="interpreter for .py scripts (default: python3)")
    watch: WatchSettings | None = Field(default=None, description="the watchdog of missed and failing runs")
    healthchecks: HealthchecksSettings | None = Field(
        default=None, description="create one healthchecks.io check per job on apply"
    )
    fleet: FleetSettings | None = Field(
        default=None, description="several machines sharing one jobs.json, coordinated through etcd"
    )
    groups: dict[GatewayName, Annotated[int, Field(ge=1, le=MAX_GROUP_SIZE)]] = Field(
        default_factory=dict,
        description='group name -> how many of its jobs may run at once, e.g. {"llm": 1}',
    )

    @model_validator(mode="after")
    def _watch_gateways_defined(self) -> Settings:
        if self.watch is not None:
            for gateway in self.watch.gateways:
                if gateway not in self.gateways:
                    known = ", ".join(sorted(self.gateways)) or "none yet"
                    raise ValueError(
                        f"watch.gateways: gateway {gateway!r} is not defined in 'gateways' (defined: {known})"
                    )
        return self


SETTINGS_ADAPTER = TypeAdapter(Settings)
AGENT_BACKENDS = ("openai", "command")


def settings_error_message(err: Any) -> str:
    """One pydantic error of settings.json in the words jobs.json's errors use."""
    kind, loc = err["type"], err["loc"]
    if kind == "model_type" and not loc:
        return f"settings.json must be a JSON object, found {json_type_name(err['input'])}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = err["input"].get("backend") if isinstance(err["input"], dict) else None
        hint = did_you_mean(tag, AGENT_BACKENDS) if isinstance(tag, str) else ""
        wrote = f"unknown backend {tag!r}" if tag is not None else "missing 'backend'"
        return f"{wrote}{hint or '; expected one of: ' + ', '.join(AGENT_BACKENDS)}"
    return error_message(err, Settings)


def settings_json_schema() -> dict[str, Any]:
    schema = SETTINGS_ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cronsync settings.json"
    return schema
