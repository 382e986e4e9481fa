"""Every configuration mistake is reported as FILE:LINE path: reason, on the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.config import ConfigError, ConfigIssue, load_config, parse_document

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "configs"
MINIMAL = (DATA / "minimal.yaml").read_text(encoding="utf-8")


def marked_line(path: Path) -> int:
    """The line of a fixture that carries the ``# <- mistake`` marker."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, start=1) if "# <- mistake" in text)


def only_issue(fixture: str) -> ConfigIssue:
    """Load a fixture that must fail with exactly one issue, and return it."""
    with pytest.raises(ConfigError) as caught:
        load_config(DATA / fixture)
    assert len(caught.value.issues) == 1, caught.value
    issue = caught.value.issues[0]
    assert issue.line == marked_line(DATA / fixture)
    assert issue.file == str(DATA / fixture)
    return issue


def issues_of(text: str) -> list[ConfigIssue]:
    """Validate configuration text; return its issues (none expected to be zero)."""
    with pytest.raises(ConfigError) as caught:
        parse_document(text.encode(), source="acd.yaml")
    return list(caught.value.issues)


def edited(old: str, new: str) -> str:
    """The minimal configuration with one edit."""
    assert old in MINIMAL
    return MINIMAL.replace(old, new, 1)


def test_overflow_to_an_undeclared_partner_is_reported_on_its_line() -> None:
    """A chain naming a partner nobody declared points at that partner."""
    issue = only_issue("unknown_partner.yaml")
    assert issue.path == "overflow.rules.75[0].partners[1]"
    assert "unknown partner 'samu-59'" in issue.message


def test_two_agents_with_one_id_are_reported_with_the_first_declaration() -> None:
    """A duplicate agent id points at the repeat and names the line of the first."""
    issue = only_issue("duplicate_agent.yaml")
    assert issue.path == "agents[1].id"
    assert "duplicate agent id 'arm-7501'" in issue.message
    assert "first declared at line 38" in issue.message


def test_negative_wrapup_time_is_rejected() -> None:
    """A negative timer is refused on its line."""
    issue = only_issue("negative_timer.yaml")
    assert issue.path == "departments[1].queues[0].wrapup_s"
    assert "greater than or equal to 0" in issue.message


def test_ring_timeout_in_words_is_a_type_error_that_shows_the_value() -> None:
    """A timer written as text is refused, and the message repeats what was written."""
    issue = only_issue("bad_type.yaml")
    assert issue.path == "departments[1].queues[0].ring_timeout_s"
    assert "valid number" in issue.message
    assert "'vingt'" in issue.message


def test_agent_serving_an_unknown_department_is_reported() -> None:
    """An agent serving a department the platform lacks points at the dept field."""
    issue = only_issue("unknown_department_in_serves.yaml")
    assert issue.path == "agents[2].serves[0].dept"
    assert issue.message == "unknown department '99'"


def test_inline_ami_password_is_refused_without_repeating_it() -> None:
    """A secret written in the file is refused, and never echoed back."""
    issue = only_issue("inline_secret.yaml")
    assert issue.path == "pbx[0].secret"
    assert "{env: VAR_NAME}" in issue.message
    assert "hunter2" not in issue.message


def test_duplicate_yaml_key_is_refused_instead_of_silently_kept() -> None:
    """A key given twice in one mapping is an error on the second occurrence."""
    issue = only_issue("duplicate_key.yaml")
    assert issue.path == "departments[1].name"
    assert "duplicate key 'name'" in issue.message


def test_yaml_syntax_error_gives_its_line() -> None:
    """A YAML syntax error is reported on the line where the parser stopped."""
    issue = only_issue("yaml_syntax.yaml")
    assert issue.path == ""
    assert issue.message.startswith("YAML syntax:")


def test_department_cannot_overflow_to_itself() -> None:
    """An entraide chain naming its own department is refused."""
    issue = only_issue("self_overflow.yaml")
    assert issue.path == "overflow.rules.92[0].partners[1]"
    assert "cannot overflow to itself" in issue.message


def test_penalty_steps_that_narrow_the_reach_are_refused() -> None:
    """A later penalty step with a lower max_penalty than the previous is refused."""
    issue = only_issue("penalty_steps_decreasing.yaml")
    assert issue.path == "departments[0].queues[0].penalty_steps[1].max_penalty"
    assert "must widen" in issue.message


def test_unknown_strategy_lists_the_valid_ones() -> None:
    """A strategy name that does not exist is refused with the valid names."""
    issue = only_issue("bad_strategy.yaml")
    assert issue.path == "departments[1].queues[0].strategy"
    assert "'longest-idle'" in issue.message


def test_issue_reads_file_line_path_reason() -> None:
    """An issue prints as FILE:LINE path: reason."""
    issue = ConfigIssue(file="configs/acd.yaml", line=42, path="agents[3].id", message="boom")
    assert str(issue) == "configs/acd.yaml:42 agents[3].id: boom"
    assert ConfigError([issue]).slug == "invalid-config"


def test_penalty_steps_out_of_wait_order_are_refused() -> None:
    """Penalty steps must come in increasing wait order."""
    [issue] = issues_of(edited("{after_s: 60, max_penalty: 2}", "{after_s: 10, max_penalty: 2}"))
    assert issue.path == "departments[0].queues[0].penalty_steps[1].after_s"
    assert issue.line == 32


def test_unquoted_department_id_asks_for_quotes() -> None:
    """A department id written as a YAML number gets a hint to quote it."""
    [issue] = issues_of(edited('  - id: "92"\n', "  - id: 92\n"))
    assert issue.path == "departments[1].id"
    assert "write it in quotes, e.g. '92'" in issue.message
    assert issue.line == 33


def test_unquoted_department_key_of_overflow_rules_asks_for_quotes() -> None:
    """An overflow rules key written as a number is reported under its text path."""
    [issue] = issues_of(edited('    "92":\n', "    92:\n"))
    assert issue.path == "overflow.rules.92"
    assert "write it in quotes" in issue.message


def test_password_inside_a_url_is_refused_without_repeating_it() -> None:
    """A Redis URL carrying a password is refused and the password is not echoed."""
    [issue] = issues_of(edited("  url: memory://", "  url: redis://:hunter2@redis:6379/0"))
    assert issue.path == "redis.url"
    assert "hunter2" not in str(issue)


def test_unknown_key_is_refused() -> None:
    """A misspelt key is refused on its line, without echoing its value."""
    [issue] = issues_of(edited("    username: acd\n", "    username: acd\n    pasword: s3cr3t\n"))
    assert (issue.line, issue.path) == (11, "pbx[0].pasword")
    assert "unknown key" in issue.message
    assert "s3cr3t" not in issue.message


def test_missing_required_key_points_at_its_parent() -> None:
    """A missing agent name is reported on the line of that agent."""
    [issue] = issues_of(edited("    name: Karim D.\n", ""))
    assert (issue.line, issue.path) == (44, "agents[1].name")
    assert issue.message == "required key is missing"


def test_queue_ids_are_unique_across_departments() -> None:
    """Two departments cannot both declare a queue of the same id."""
    issues = issues_of(edited("      - id: 92-general", "      - id: 75-general"))
    assert issues[0].path == "departments[1].queues[0].id"
    assert "unique across the platform" in issues[0].message


def test_agent_cannot_list_a_queue_of_another_department() -> None:
    """An agent's serves entry may only list queues of its own department."""
    [issue] = issues_of(
        edited(
            '      - {dept: "75"}\n    skills',
            '      - {dept: "75", queues: [92-general]}\n    skills',
        )
    )
    assert issue.path == "agents[1].serves[0].queues[0]"
    assert "belongs to department 92" in issue.message


def test_default_priority_must_be_one_of_the_classes() -> None:
    """The default priority names a declared class."""
    [issue] = issues_of(edited("  default: normal", "  default: urgent"))
    assert (issue.line, issue.path) == (23, "priorities.default")


def test_rules_for_an_undeclared_department_are_refused() -> None:
    """Overflow rules keyed by a department the platform lacks are refused."""
    [issue] = issues_of(edited('    "92":\n', '    "93":\n'))
    assert issue.path == "overflow.rules.93"


def test_overflow_rule_ids_are_unique_across_departments() -> None:
    """Two overflow rules cannot share an id, even in different departments."""
    [issue] = issues_of(edited("{id: 92-entraide,", "{id: 75-entraide,"))
    assert (issue.line, issue.path) == (64, "overflow.rules.92[0].id")
    assert "duplicate overflow rule id '75-entraide'" in issue.message


def test_several_duplicate_keys_are_reported_in_file_order() -> None:
    """Every repeated key is reported, the earliest first."""
    text = edited("  name: test-15\n", "  name: test-15\n  name: again\n")
    text = text.replace("    username: acd\n", "    username: acd\n    username: acd2\n")
    assert [i.line for i in issues_of(text)] == [6, 12]


def test_empty_file_is_refused() -> None:
    """A file with only comments is not a configuration."""
    [issue] = issues_of("# nothing yet\n")
    assert issue.line == 1
    assert "empty" in issue.message


def test_every_mistake_is_reported_at_once_in_file_order() -> None:
    """Several mistakes come back together, sorted by line."""
    text = edited("      - id: 92-general\n", "      - id: 92-general\n        wrapup_s: -1\n")
    text = text.replace("    username: acd\n", "    username: 7\n")
    issues = issues_of(text)
    assert [i.path for i in issues] == ["pbx[0].username", "departments[1].queues[0].wrapup_s"]


def test_unreadable_file_is_a_config_error() -> None:
    """A missing file is reported as a configuration error, without a line."""
    with pytest.raises(ConfigError) as caught:
        load_config(DATA / "does-not-exist.yaml")
    assert caught.value.issues[0].line is None
    assert "cannot read" in caught.value.issues[0].message


def test_a_required_skill_nobody_holds_is_reported_on_the_queue() -> None:
    """A queue needing 'anglias' (a typo) would never get a call offered: refused."""
    text = edited(
        "      - id: 92-general\n",
        "      - id: 92-general\n        required_skills: {anglias: 1}\n",
    )
    [issue] = issues_of(text)
    assert issue.path == "departments[1].queues[0].required_skills"
    assert issue.line == text.splitlines().index("        required_skills: {anglias: 1}") + 1
    assert "anglias ≥ 1" in issue.message


@pytest.mark.parametrize("endpoint", ["PJSIP/arm-7501&PJSIP/arm-7502", "PJSIP/arm-7501,60"])
def test_an_endpoint_with_several_phones_or_dial_options_is_refused(endpoint: str) -> None:
    """'&' would ring several phones and ',' would shift Dial's arguments."""
    [issue] = issues_of(edited("endpoint: PJSIP/arm-7501", f"endpoint: {endpoint}"))
    assert issue.path == "agents[0].endpoint"


def test_a_trusted_proxy_given_by_host_name_is_refused_on_its_entry() -> None:
    """`acd run` needs addresses or networks: a host name is named, on its line and index."""
    text = MINIMAL + (
        "\nconsole:\n  auth:\n    trusted_proxies:\n"
        "      - 127.0.0.1\n      - 10.15.0.0/16\n      - rp.chu.local\n"
    )
    [issue] = issues_of(text)
    assert issue.path == "console.auth.trusted_proxies[2]"
    assert issue.line == text.splitlines().index("      - rp.chu.local") + 1
    assert "'rp.chu.local' is not an IP address or network" in issue.message
    assert str(issue).startswith(f"acd.yaml:{issue.line} console.auth.trusted_proxies[2]: ")
