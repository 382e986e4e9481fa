"""Secret references: the configuration names where a secret lives, never the secret itself."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from acd.config.errors import SecretError

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class SecretRef(BaseModel):
    """Where to read a secret at run time: ``{env: VAR_NAME}`` or ``{file: /path}``."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, hide_input_in_errors=True
    )

    env: str | None = Field(default=None, pattern=_ENV_NAME)
    """Name of the environment variable holding the secret."""
    file: str | None = Field(default=None, min_length=1)
    """Path of a file holding the secret (a trailing newline is ignored)."""

    @model_validator(mode="before")
    @classmethod
    def _never_inline(cls, data: Any) -> Any:
        if isinstance(data, str | int | float):
            raise PydanticCustomError(
                "inline-secret",
                "a secret is never written in the configuration: "
                "use {env: VAR_NAME} or {file: /path/to/secret}",
            )
        return data

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.env is None) == (self.file is None):
            raise PydanticCustomError(
                "secret-source", "give exactly one of 'env' or 'file' for a secret"
            )
        return self

    def describe(self) -> str:
        """Where the secret comes from, safe to print: ``env ACD_AMI_SECRET``."""
        return f"env {self.env}" if self.env is not None else f"file {self.file}"


def resolve_secret(ref: SecretRef, *, environ: Mapping[str, str] | None = None) -> str:
    """Read the secret a reference points at; raise ``SecretError`` if it is missing or empty."""
    if ref.env is not None:
        value = (os.environ if environ is None else environ).get(ref.env)
        if not value:
            raise SecretError(f"environment variable {ref.env} is not set or empty")
        return value
    assert ref.file is not None  # guaranteed by the model's own validation
    try:
        value = Path(ref.file).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecretError(f"cannot read secret file {ref.file}: {exc.strerror}") from exc
    if not value:
        raise SecretError(f"secret file {ref.file} is empty")
    return value
