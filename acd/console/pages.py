"""The console's pages: HTML rendered here in the reader's language, live parts in small JS.

Templates live in ``acd/console/templates`` (``layout.html`` around each page's body);
``{{t:key}}`` is replaced by the text of that key in the language's catalog
(``static/i18n/<lang>.json``), ``{{name}}`` by an escaped value. The catalog also goes
to the page (as JSON data, not script) for the texts its JS writes.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

Lang = Literal["fr", "en"]
LANGS: tuple[Lang, ...] = ("fr", "en")
LANG_COOKIE = "acd_lang"

PAGES: dict[str, str] = {
    "wallboard": "nav.wallboard",
    "department": "nav.department",
    "agents": "nav.agents",
    "overflow": "nav.overflow",
    "callbacks": "nav.callbacks",
    "config": "nav.config",
    "audit": "nav.audit",
    "system": "nav.system",
}
"""Every page (its template name) and the catalog key of its title."""

_KEY = re.compile(r"\{\{t:([a-z0-9_.-]+)\}\}")
_VALUE = re.compile(r"\{\{([a-z0-9_]+)\}\}")


@cache
def catalog(lang: Lang) -> dict[str, str]:
    """A language's texts by key."""
    text = resources.files("acd.console").joinpath(f"static/i18n/{lang}.json").read_text("utf-8")
    doc = json.loads(text)
    assert isinstance(doc, dict)
    return {str(k): str(v) for k, v in doc.items()}


@cache
def template(name: str) -> str:
    """A template's source."""
    return resources.files("acd.console").joinpath(f"templates/{name}.html").read_text("utf-8")


def translate(source: str, lang: Lang) -> str:
    """Every ``{{t:key}}`` replaced by its (escaped) text; a missing key shows itself."""
    texts = catalog(lang)
    return _KEY.sub(lambda m: html.escape(texts.get(m.group(1), m.group(1))), source)


def fill(source: str, values: dict[str, str]) -> str:
    """Every ``{{name}}`` replaced by its escaped value (unknown names left as they are)."""
    return _VALUE.sub(
        lambda m: html.escape(values[m.group(1)]) if m.group(1) in values else m.group(0), source
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PageContext:
    """What every page shows about its reader and the instance."""

    lang: Lang
    user: str
    role: str
    csrf: str
    instance: str
    param: str = ""
    """The page's subject (a department id), empty for most."""


def render(page: str, ctx: PageContext) -> str:
    """A whole page: the layout around the page's body, in the reader's language."""
    body = template(page)
    values = {
        "lang": ctx.lang,
        "user": ctx.user,
        "role": ctx.role,
        "csrf": ctx.csrf,
        "instance": ctx.instance,
        "page": page,
        "param": ctx.param,
        "title_key": PAGES.get(page, page),
        "i18n": json.dumps(catalog(ctx.lang), ensure_ascii=False),
    }
    whole = template("layout").replace("{{body}}", body)
    return fill(translate(whole, ctx.lang), values)


def render_login(lang: Lang, instance: str) -> str:
    """The login page (no session yet)."""
    values = {
        "lang": lang,
        "instance": instance,
        "i18n": json.dumps(catalog(lang), ensure_ascii=False),
    }
    return fill(translate(template("login"), lang), values)


def keys_used() -> set[str]:
    """Every catalog key the templates use (the tests check both catalogs have them)."""
    found: set[str] = set()
    for name in [*PAGES, "layout", "login"]:
        found.update(_KEY.findall(template(name)))
    return found
