"""compiled.json's FORMAT moves with the shape of what it holds: exec trusts a cache of its FORMAT, so a
job or setting that gained a field (or a computed key) under the same FORMAT would be run from a cache
made by an older cronsync, without it, until the next apply."""

from __future__ import annotations

import hashlib
import json
from typing import Any, get_args

from pydantic import BaseModel

from cronsync.config import COMPUTED_KEYS, AnyJob
from cronsync.core.settings import Settings
from cronsync.userspace.compiled import FORMAT

# The shape each FORMAT was made with (`compiled_shape()`): when the shape changes, bump FORMAT and add it.
SHAPE_OF_FORMAT = {3: "874c745a96836475fe7b0d373644d04ff29099f56cf0d0b66c29b8646fb293da"}


def fields_of(model: Any) -> Any:
    """The field names of a model and of every model in its fields, recursively: pydantic's own JSON
    schema would also change with pydantic's version and with every description edited."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return {name: fields_of(field.annotation) for name, field in sorted(model.model_fields.items())}
    inner = [fields_of(arg) for arg in get_args(model)]
    inner = [shape for shape in inner if shape is not None]
    return inner or None


def compiled_shape() -> str:
    shape = {"job": fields_of(AnyJob), "settings": fields_of(Settings), "computed": COMPUTED_KEYS}
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def test_the_compiled_format_is_bumped_when_what_it_holds_changes_shape() -> None:
    assert SHAPE_OF_FORMAT.get(FORMAT) == compiled_shape(), (
        "the jobs or settings compiled.json holds changed shape: bump FORMAT in "
        "cronsync/userspace/compiled.py (an older cronsync's cache is then a miss) and record "
        f"{{FORMAT: {compiled_shape()!r}}} here"
    )


def test_the_shape_sees_a_field_added_to_a_nested_model() -> None:
    class Inner(BaseModel):
        a: int

    class Grown(BaseModel):
        a: int
        b: str = ""

    class Outer(BaseModel):
        inner: list[Inner] | None = None

    class OuterGrown(BaseModel):
        inner: list[Grown] | None = None

    assert fields_of(Outer) == {"inner": [[{"a": None}]]}
    assert fields_of(OuterGrown) == {"inner": [[{"a": None, "b": None}]]}
