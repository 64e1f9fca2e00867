"""The settings.json schema: gateways, the agent backend, logging and hooks."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from cronsync.core.field_errors import did_you_mean, error_message
from cronsync.core.jobs import GatewayName, PositiveDuration, StrictModel, Text
from cronsync.core.jsontext import json_type_name

MiB = 1024 * 1024
HOOK_TIMEOUT_SECONDS = 10


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


class Settings(StrictModel):
    gateways: dict[GatewayName, list[Text]] = Field(
        default_factory=dict, description="gateway name -> apprise URLs; ${VAR} is expanded at run time"
    )
    agent: AgentBackend | None = None
    log: LogSettings = Field(default_factory=LogSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    python: Text | None = Field(default=None, description="interpreter for .py scripts (default: python3)")


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
