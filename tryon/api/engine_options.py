"""The registered engines' options and result details in the HTTP API, built from the registry.

Each engine declares its request options (``EngineOptions``) and result details (``EngineDetails``)
in its own folder; here they become optional form fields of POST /api/tryon (with their types,
limits and descriptions, hence their validation and OpenAPI schema) and optional keys of a
completed job's answer. Nothing in the API names one engine's option.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Callable, Iterable, Optional

from fastapi import Depends, Form
from pydantic import BaseModel, Field, create_model
from pydantic.fields import FieldInfo

from ..engines.registry import engines

# The field limits a form field carries over from a pydantic ``Field`` (annotated-types' names).
FORM_LIMITS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")


def declared_fields(models: Iterable[type[BaseModel]]) -> dict[str, FieldInfo]:
    """Every field of ``models`` by name, each once; one name declared differently twice is a ``ValueError``."""
    fields: dict[str, FieldInfo] = {}
    for model in models:
        for name, field in model.model_fields.items():
            if name in fields and repr(fields[name]) != repr(field):
                raise ValueError(f"engines declare {name!r} differently: {fields[name]!r} and {field!r}")
            fields.setdefault(name, field)
    return fields


def form_parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    """``field`` as an optional form field: absent (None) when the client leaves it out."""
    limits = {limit: getattr(item, limit) for item in field.metadata for limit in FORM_LIMITS if hasattr(item, limit)}
    form = Form(description=field.description, **limits)
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[Optional[field.annotation], form]
    )


def options_form(fields: dict[str, FieldInfo]) -> Callable[..., dict[str, Any]]:
    """A FastAPI dependency taking ``fields`` as form fields and giving those the client sent, typed."""

    def sent_options(**values: Any) -> dict[str, Any]:
        return {name: value for name, value in values.items() if value is not None}

    sent_options.__signature__ = inspect.Signature([form_parameter(name, field) for name, field in fields.items()])
    return sent_options


def with_engine_details(answer: type[BaseModel]) -> type[BaseModel]:
    """``answer`` with every registered engine's result details as optional keys (completed jobs)."""
    details = declared_fields(spec.details for spec in engines())
    return create_model(
        answer.__name__.removesuffix("Fields"),
        __base__=answer,
        __doc__=answer.__doc__,
        **{name: (Optional[field.annotation], Field(default=None, description=field.description)) for name, field in details.items()},
    )


EngineOptionsForm = Annotated[dict[str, Any], Depends(options_form(declared_fields(spec.options for spec in engines())))]
"""Every registered engine's options, as sent (name -> typed value), kept with the job as its
``engine_options``; when it runs, the chosen engine takes its own and the others are noted."""
