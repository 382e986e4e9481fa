"""The `acd config` commands: check a file's validity, print the JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from acd.cli import main

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "configs" / "acd.yaml"
DATA = ROOT / "tests" / "data" / "configs"
ISSUE_LINE = re.compile(r"^(?P<file>.+\.yaml):(?P<line>\d+)( (?P<path>\S+))?: (?P<reason>.+)$")


def test_check_of_the_reference_configuration_prints_a_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A valid file exits 0 and summarises version, departments, queues, agents and PBX."""
    assert main(["config", "check", str(REFERENCE)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert re.search(r"version [0-9a-f]{12}", out)
    assert "departments  8 (75, 77, 78, 91, 92, 93, 94, 95)" in out
    assert "queues       10" in out
    assert "agents       49" in out
    assert "19 rules, 2 external partner(s)" in out
    assert "pbx1 127.0.0.1:5038" in out


def test_check_of_a_bad_file_exits_2_with_file_line_path_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An invalid file exits 2 and prints FILE:LINE path: reason on stderr."""
    fixture = DATA / "unknown_department_in_serves.yaml"
    assert main(["config", "check", str(fixture)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    match = ISSUE_LINE.match(line)
    assert match is not None, line
    assert match["file"] == str(fixture)
    assert match["path"] == "agents[2].serves[0].dept"
    assert match["reason"] == "unknown department '99'"


def test_check_prints_every_mistake_of_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every shape mistake gets its own line, in file order."""
    text = (DATA / "minimal.yaml").read_text(encoding="utf-8")
    text = text.replace("    username: acd\n", "    username: acd\n    port: -1\n")
    text = text.replace(
        "      - id: 92-general\n", "      - id: 92-general\n        wrapup_s: -5\n"
    )
    bad = tmp_path / "acd.yaml"
    bad.write_text(text, encoding="utf-8")
    assert main(["config", "check", str(bad)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [ISSUE_LINE.match(line)["path"] for line in lines] == [  # type: ignore[index]
        "pbx[0].port",
        "departments[1].queues[0].wrapup_s",
    ]


def test_check_of_a_yaml_syntax_error_gives_the_line_without_a_path(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A syntax error prints FILE:LINE: reason."""
    fixture = DATA / "yaml_syntax.yaml"
    assert main(["config", "check", str(fixture)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{fixture}:63: YAML syntax:")


def test_check_with_secrets_reports_an_unset_variable_on_its_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--secrets` resolves every secret reference and reports the missing ones."""
    monkeypatch.delenv("ACD_AMI_SECRET", raising=False)
    assert main(["config", "check", "--secrets", str(REFERENCE)]) == 2
    err = capsys.readouterr().err
    assert re.match(rf"^{re.escape(str(REFERENCE))}:\d+ pbx\[0\]\.secret: .*ACD_AMI_SECRET", err)


def test_check_with_secrets_never_prints_their_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With every secret available, the check passes and shows no value."""
    monkeypatch.setenv("ACD_AMI_SECRET", "s3cr3t-value")
    assert main(["config", "check", "--secrets", str(REFERENCE)]) == 0
    out = capsys.readouterr().out
    assert "1 resolved" in out
    assert "s3cr3t-value" not in out


def test_schema_prints_a_json_schema_with_the_departments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`acd config schema` prints valid JSON describing the configuration."""
    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "departments" in schema["properties"]
    assert schema["additionalProperties"] is False
    assert schema["$schema"].startswith("https://json-schema.org/")


def test_acd_without_a_command_prints_help_and_exits_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Running `acd` alone shows the commands and fails."""
    assert main([]) == 2
    assert "config" in capsys.readouterr().err


def test_config_without_an_action_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`acd config` alone is a usage error (status 2)."""
    with pytest.raises(SystemExit) as caught:
        main(["config"])
    assert caught.value.code == 2
    assert "ACTION" in capsys.readouterr().err
