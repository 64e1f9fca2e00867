"""pydantic's validation errors in words a person can act on, with "did you mean ...?" for a misspelt field or
value: the known names come from the models themselves, so a field added to a model is suggested without
listing it here."""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo


def did_you_mean(word: str, known: Iterable[str]) -> str:
    """ "; did you mean 'cron'?" when one known name is close to word (case aside), else ""."""
    by_folded = {name.casefold(): name for name in known}
    close = difflib.get_close_matches(word.casefold(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean {by_folded[close[0]]!r}?" if close else ""


def error_message(err: Any, root: object) -> str:
    """The message for one pydantic error of a value validated as the annotation root."""
    kind = err["type"]
    if kind == "extra_forbidden":
        *path, unknown = err["loc"]
        return unknown_field(unknown, fields_at(root, path))
    if kind == "missing":
        return "required field is missing"
    return str(err["msg"]).removeprefix("Value error, ")


def unknown_field(unknown: object, known: Sequence[str]) -> str:
    """The message for a field no model has, with the closest known one or the list of them."""
    if not known:
        return "unknown field; check its spelling (`cronsync schema` lists every field)"
    return f"unknown field{did_you_mean(str(unknown), known) or '; known fields here: ' + ', '.join(known)}"


def fields_at(annotation: object, path: Sequence[int | str]) -> list[str]:
    """The field names (as written in JSON) of the object at path inside a model annotation, as pydantic
    reports error locations (list indexes, and a tagged union's tag, included); [] when path leads to no
    model (a dict's keys, a list of plain values)."""
    candidates = _models_in(annotation)
    for part in path:
        if isinstance(part, int):
            continue  # an item of a list field: its models are already the candidates
        tagged = [model for model in candidates if _has_tag(model, part)]
        if tagged:
            candidates = tagged
            continue
        fields = [field for model in candidates if (field := _field_named(model, part)) is not None]
        if not fields:
            return []
        candidates = _models_in(fields[0].annotation)
    if len(candidates) != 1:
        return []
    return [info.alias or name for name, info in candidates[0].model_fields.items()]


def _field_named(model: type[BaseModel], name: str) -> FieldInfo | None:
    for field_name, info in model.model_fields.items():
        if name in (field_name, info.alias):
            return info
    return None


def _has_tag(model: type[BaseModel], value: str) -> bool:
    """Whether a Literal field of model (a tagged union's discriminator) takes exactly value."""
    return any(
        typing.get_origin(info.annotation) is typing.Literal and typing.get_args(info.annotation) == (value,)
        for info in model.model_fields.values()
    )


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The models an annotation holds: Notify, Notify | None, list[Notify], Annotated[A | B, ...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for argument in typing.get_args(annotation) for model in _models_in(argument)]
