"""healthchecks' Management API v3 over HTTP (urllib, JSON): create or update, list, pause, resume checks.

The API key travels in the X-Api-Key header only; no error message names it or the URL's path.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from cronsync import CronsyncError

TIMEOUT_SECONDS = 10.0


class HealthchecksError(CronsyncError):
    """The Management API refused a request or could not be reached."""


class ManagementApi:
    def __init__(self, api_url: str, api_key: str) -> None:
        self.base = api_url.rstrip("/") + "/"
        self._key = api_key

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("X-Api-Key", self._key)
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", "cronsync")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return int(response.status), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode("utf-8", "replace").strip()
            what = f"{method} {path.split('/')[0]}"
            raise HealthchecksError(f"{what}: HTTP {exc.code} {detail}".rstrip()) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise HealthchecksError(f"the Management API cannot be reached: {reason}") from None

    def upsert(self, check: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        """(created, the check): 201 made a new check, 200 updated the one with the same slug."""
        status, answer = self._call("POST", "checks/", check)
        return status == 201, dict(answer or {})

    def checks(self, tag: str) -> list[dict[str, Any]]:
        _, answer = self._call("GET", f"checks/?tag={tag}")
        return list((answer or {}).get("checks", []))

    def pause(self, uuid: str) -> None:
        self._call("POST", f"checks/{uuid}/pause")

    def resume(self, uuid: str) -> None:
        self._call("POST", f"checks/{uuid}/resume")
