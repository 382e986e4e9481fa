"""The console's pages: catalogs, templates and what the CSP allows in them."""

from __future__ import annotations

import html
import json
import re
from importlib import resources

import pytest

from acd.console import pages
from acd.console.errors import STATUS_OF_SLUG
from acd.core.states import AgentState, CallState

CALLBACK_STATUSES = ("to-call-back", "called-back", "reached", "not-reached")
ROLES = ("viewer", "supervisor", "admin")
TEMPLATES = [*pages.PAGES, "layout", "login"]


def _ctx(**changes: str) -> pages.PageContext:
    values = {
        "lang": "fr",
        "user": "marie",
        "role": "supervisor",
        "csrf": "tok-123",
        "instance": "idf-15",
        "param": "75",
    }
    values.update(changes)
    return pages.PageContext(**values)  # type: ignore[arg-type]


def _script() -> str:
    return resources.files("acd.console").joinpath("static/console.js").read_text("utf-8")


@pytest.mark.parametrize("lang", pages.LANGS)
def test_catalog_is_flat_text(lang: pages.Lang) -> None:
    """Every catalog entry is a non-empty text without template braces."""
    raw = resources.files("acd.console").joinpath(f"static/i18n/{lang}.json").read_text("utf-8")
    doc = json.loads(raw)
    assert isinstance(doc, dict)
    for key, text in doc.items():
        assert isinstance(text, str), key
        assert text.strip(), key
        assert "{{" not in text, key


def test_catalogs_have_the_same_keys() -> None:
    """French and English catalogs translate exactly the same keys."""
    fr, en = pages.catalog("fr"), pages.catalog("en")
    assert sorted(set(fr) - set(en)) == []
    assert sorted(set(en) - set(fr)) == []


def test_catalogs_use_the_same_placeholders() -> None:
    """A text's {placeholders} are the same in both languages."""
    fr, en = pages.catalog("fr"), pages.catalog("en")
    holes = re.compile(r"\{([a-z_]+)\}")
    for key, text in fr.items():
        assert set(holes.findall(text)) == set(holes.findall(en[key])), key


@pytest.mark.parametrize("lang", pages.LANGS)
def test_template_keys_exist(lang: pages.Lang) -> None:
    """Every {{t:key}} used by a template has a text in the catalog."""
    missing = sorted(pages.keys_used() - set(pages.catalog(lang)))
    assert missing == []


@pytest.mark.parametrize("lang", pages.LANGS)
def test_script_keys_exist(lang: pages.Lang) -> None:
    """Every literal t("key") of the page script has a text in the catalog."""
    used = set(re.findall(r"\bt\(\s*\"([a-z0-9_.-]+)\"", _script()))
    assert used
    assert sorted(used - set(pages.catalog(lang))) == []


@pytest.mark.parametrize("lang", pages.LANGS)
def test_page_titles_exist(lang: pages.Lang) -> None:
    """Every page's title key is in the catalog."""
    texts = pages.catalog(lang)
    assert [k for k in pages.PAGES.values() if k not in texts] == []


@pytest.mark.parametrize("lang", pages.LANGS)
def test_every_error_slug_is_translated(lang: pages.Lang) -> None:
    """Every slug the API answers with, and internal-error, has an error.<slug> text."""
    texts = pages.catalog(lang)
    slugs = [*STATUS_OF_SLUG, "internal-error"]
    assert [s for s in slugs if f"error.{s}" not in texts] == []


@pytest.mark.parametrize("lang", pages.LANGS)
def test_states_statuses_and_roles_are_translated(lang: pages.Lang) -> None:
    """Agent states, call states, callback statuses and roles all have a text."""
    texts = pages.catalog(lang)
    wanted = [
        *(f"state.{s.value}" for s in AgentState),
        *(f"call.{s.value}" for s in CallState),
        *(f"callback.{s}" for s in CALLBACK_STATUSES),
        *(f"role.{r}" for r in ROLES),
    ]
    assert [k for k in wanted if k not in texts] == []


def test_french_is_french() -> None:
    """The French catalog says the words the SAMU use."""
    fr = pages.catalog("fr")
    assert fr["callback.to-call-back"] == "À rappeler"
    assert fr["callback.reached"] == "Joint"
    assert fr["state.paused"] == "En pause"
    assert fr["tile.crisis"] == "Mode crise"


@pytest.mark.parametrize("lang", pages.LANGS)
@pytest.mark.parametrize("page", list(pages.PAGES))
def test_every_page_renders(page: str, lang: pages.Lang) -> None:
    """Each page renders whole: no placeholder left, the CSRF token and page in meta tags."""
    text = pages.render(page, _ctx(lang=lang))
    assert "{{" not in text
    assert '<meta name="acd-csrf" content="tok-123">' in text
    assert f'<meta name="acd-page" content="{page}">' in text
    assert f'<html lang="{lang}"' in text
    assert '<script src="/static/console.js" defer></script>' in text
    assert 'href="/static/console.css"' in text


@pytest.mark.parametrize("lang", pages.LANGS)
def test_login_renders(lang: pages.Lang) -> None:
    """The login page renders whole, with the form fields the tests use."""
    text = pages.render_login(lang, "idf-15")
    assert "{{" not in text
    assert '<meta name="acd-page" content="login">' in text
    for hook in ("login-user", "login-password", "login-submit", "login-error"):
        assert f'id="{hook}"' in text
        assert f'data-testid="{hook}"' in text
    assert "idf-15" in text


def test_catalog_goes_to_the_page_as_data() -> None:
    """The catalog in the acd-i18n meta tag reads back as the same JSON."""
    text = pages.render("wallboard", _ctx())
    found = re.search(r'<meta name="acd-i18n" content="([^"]*)">', text)
    assert found is not None
    assert json.loads(html.unescape(found.group(1))) == pages.catalog("fr")


def test_values_are_escaped() -> None:
    """A user name with markup shows as text, never as a script."""
    evil = '<script>alert("x")</script>'
    text = pages.render("wallboard", _ctx(user=evil, instance=evil, param=evil))
    assert evil not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    login = pages.render_login("en", evil)
    assert evil not in login


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_obey_the_csp(name: str) -> None:
    """No inline script, inline style or on* handler attribute in any template."""
    source = pages.template(name)
    for tag in re.findall(r"<script\b[^>]*>", source, flags=re.IGNORECASE):
        assert "src=" in tag, tag
    bodies = re.findall(r"<script\b[^>]*>(.*?)</script>", source, flags=re.IGNORECASE | re.DOTALL)
    assert [b for b in bodies if b.strip()] == []
    assert re.search(r"\sstyle\s*=", source, flags=re.IGNORECASE) is None
    assert re.search(r"<style\b", source, flags=re.IGNORECASE) is None
    assert re.search(r"\son[a-z]+\s*=", source, flags=re.IGNORECASE) is None
    assert "javascript:" not in source.lower()
    assert re.search(r"(src|href)=\"(https?:)?//", source) is None


def test_script_never_parses_data_as_html() -> None:
    """The page script writes with textContent: no innerHTML, no document.write, no eval."""
    script = _script()
    assert script.lstrip().startswith("/*")
    assert '"use strict";' in script
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert banned not in script, banned
    assert "new Function" not in script


def test_script_keeps_the_latency_hook() -> None:
    """The page script records stream latencies in window.acdLatencies, capped."""
    script = _script()
    assert "window.acdLatencies" in script
    assert "100000" in script
