"""Notifications through apprise (imported only when a run notifies).

A gateway is a name from settings.json "gateways" mapping to apprise URLs. Every URL is tried a few
times with backoff; failures are reported back (secrets redacted) and never change the job's status.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from cronsync.userspace.secrets import Secrets, SecretsError, redact_url

ATTEMPTS = 3
BACKOFF_SECONDS = 0.5  # doubled after each failed attempt


class _Collect(logging.Handler):
    """Keeps apprise's own warnings so that the failure can be logged, redacted, in our log."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _quiet_apprise() -> _Collect:
    collector = _Collect()
    apprise_logger = logging.getLogger("apprise")
    apprise_logger.handlers = [collector]
    apprise_logger.propagate = False  # its messages may name tokens: we print them redacted instead
    return collector


def notify_gateways(
    gateway_names: Sequence[str],
    gateways: Mapping[str, Sequence[str]],
    body: str,
    *,
    failed: bool,
    secrets: Secrets,
) -> list[dict[str, Any]]:
    """Send `body` to each named gateway; one result per URL: gateway, service, ok, attempts, error."""
    import apprise
    from apprise.common import NotifyFormat, NotifyType, OverflowMode

    collector = _quiet_apprise()
    results = []
    for name in gateway_names:
        for number, template in enumerate(gateways.get(name, []), 1):
            result: dict[str, Any] = {"gateway": name, "service": redact_url(template), "ok": False}
            results.append(result)
            try:
                url = secrets.expand(template, f"gateway {name!r} URL #{number}")
            except SecretsError as exc:
                result.update(attempts=0, error=str(exc))
                continue
            plugin = apprise.Apprise.instantiate(url)
            if plugin is None:
                result.update(attempts=0, error=f"gateway {name!r} URL #{number} is not a valid apprise URL")
                continue
            if "overflow=" not in url:  # long output: cut to the service's own limit (or ?overflow=split)
                plugin.overflow_mode = OverflowMode.TRUNCATE
            # through the Apprise manager, which converts our plain text to the service's format
            service = apprise.Apprise()
            service.add(plugin)
            notify_type = NotifyType.FAILURE if failed else NotifyType.INFO
            for attempt in range(1, ATTEMPTS + 1):
                collector.messages.clear()
                result["attempts"] = attempt
                if service.notify(
                    body=body, title="", notify_type=notify_type, body_format=NotifyFormat.TEXT
                ):
                    result["ok"] = True
                    result.pop("error", None)
                    break
                reason = collector.messages[-1] if collector.messages else "delivery failed"
                result["error"] = secrets.redactor()(f"gateway {name!r} ({result['service']}): {reason}")
                if attempt < ATTEMPTS:
                    time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
    return results
