"""Secrets are references resolved at run time, never values read at load time."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from acd.config import SecretError, SecretRef, load_config, resolve_secret, secret_refs

MINIMAL = Path(__file__).resolve().parents[2] / "tests" / "data" / "configs" / "minimal.yaml"


def test_secret_from_the_environment_is_read_when_asked() -> None:
    """An env reference resolves to the variable's value."""
    ref = SecretRef(env="ACD_AMI_SECRET")
    assert resolve_secret(ref, environ={"ACD_AMI_SECRET": "s3cr3t"}) == "s3cr3t"


def test_unset_environment_variable_names_the_variable() -> None:
    """A missing variable raises a SecretError that names it."""
    with pytest.raises(SecretError, match="ACD_AMI_SECRET is not set"):
        resolve_secret(SecretRef(env="ACD_AMI_SECRET"), environ={})


def test_secret_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    """A file reference resolves to the file's content, trailing newline dropped."""
    secret = tmp_path / "ami.secret"
    secret.write_text("s3cr3t\n", encoding="utf-8")
    assert resolve_secret(SecretRef(file=str(secret))) == "s3cr3t"


def test_missing_secret_file_is_a_secret_error(tmp_path: Path) -> None:
    """An unreadable secret file raises a SecretError naming the path."""
    missing = tmp_path / "nope"
    with pytest.raises(SecretError, match="cannot read secret file") as caught:
        resolve_secret(SecretRef(file=str(missing)))
    assert caught.value.slug == "missing-secret"


def test_empty_secret_file_is_a_secret_error(tmp_path: Path) -> None:
    """An empty secret file is as good as a missing one."""
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    with pytest.raises(SecretError, match="is empty"):
        resolve_secret(SecretRef(file=str(empty)))


def test_secret_reference_names_exactly_one_source() -> None:
    """A reference with both env and file, or neither, is refused."""
    with pytest.raises(ValidationError, match="exactly one"):
        SecretRef(env="A", file="/run/secrets/a")
    with pytest.raises(ValidationError, match="exactly one"):
        SecretRef()


def test_loading_a_configuration_never_reads_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A configuration whose secret variable is unset still loads: resolution is deferred."""
    monkeypatch.delenv("ACD_TEST_AMI_SECRET", raising=False)
    cfg = load_config(MINIMAL)
    [(loc, ref)] = secret_refs(cfg)
    assert loc == ("pbx", 0, "secret")
    assert ref.describe() == "env ACD_TEST_AMI_SECRET"
