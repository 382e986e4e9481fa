"""Console push at 200 arrivals/s: a change at the engine → the wallboard updated in Chromium.

Three processes on loopback, as on a real site: the fake Asterisk (20 SAMU × 10 calls/s,
2,000 ARM phones), ``acd run`` with the console, and headless Chromium showing the
wallboard. Every push says when its oldest change happened at the engine (``at``); the
page records ``now - at`` once its DOM shows the push (``window.acdLatencies``). The
baseline, in this process during the same window: a bare WebSocket client of the same
stream, which measures the same delay without a browser (parse and render left out).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from acd.console.roles import Role
from acd.console.users import UsersFile
from bench.bench_e2e import start_fake

DEPTS = [f"{n:02d}" for n in range(1, 21)]
RATE = 11.0  # calls per second per SAMU offered: the fake delivers ~200/s of them here
AGENTS = 100  # per SAMU
WARMUP_S = 6.0
MEASURE_S = 20.0
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(folder: Path, ami_port: int, console_port: int) -> Path:
    depts = "\n".join(f'  - {{id: "{d}", name: SAMU {d}, queues: [{{id: q{d}}}]}}' for d in DEPTS)
    agents = "\n".join(
        f"  - {{id: a{d}{i:03d}, name: ARM {d}-{i}, endpoint: PJSIP/a{d}{i:03d}, "
        f'serves: [{{dept: "{d}"}}]}}'
        for d in DEPTS
        for i in range(AGENTS)
    )
    text = f"""
instance: {{name: bench-console}}
pbx:
  - {{name: pbx1, host: 127.0.0.1, port: {ami_port}, username: acd15,
     secret: {{env: ACD_BENCH_AMI_SECRET}}}}
redis: {{url: "memory://"}}
journal: {{url: "sqlite:///{folder}/journal.db", spool: "{folder}/journal.spool"}}
console: {{port: {console_port}, auth: {{users_file: "{folder}/users.yaml"}}}}
departments:
{depts}
agents:
{agents}
"""
    path = folder / "acd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    n = len(ordered)
    return {
        "n": n,
        "p50": 1000 * statistics.median(ordered),
        "p95": 1000 * ordered[min(n - 1, int(0.95 * n))],
        "p99": 1000 * ordered[min(n - 1, int(0.99 * n))],
        "max": 1000 * ordered[-1],
    }


async def _bare_client(base: str, user: str, password: str, until: float) -> list[float]:
    """The baseline: the same stream read by a plain client, delay at receipt."""
    delays: list[float] = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        login = {"username": user, "password": password}
        async with http.post(f"{base}/api/v1/login", json=login) as r:
            r.raise_for_status()
        async with http.ws_connect(f"{base}/api/v1/stream") as ws:
            while time.time() < until:
                try:
                    msg = await ws.receive_json(timeout=max(0.1, until - time.time()))
                except TimeoutError:
                    break
                if msg.get("type") == "tiles" and msg.get("at") is not None:
                    delays.append(time.time() - msg["at"])
    return delays


async def _browser(
    base: str, user: str, password: str, warmup_until: float, until: float
) -> list[float]:
    from playwright.async_api import async_playwright  # noqa: PLC0415 - bench-only dependency

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(viewport={"width": 1600, "height": 1000})
        r = await context.request.post(
            f"{base}/api/v1/login", data={"username": user, "password": password}
        )
        assert r.ok, await r.text()
        page = await context.new_page()
        await page.goto(f"{base}/")
        await page.wait_for_function("Array.isArray(window.acdLatencies)")
        await asyncio.sleep(max(0.0, warmup_until - time.time()))
        await page.evaluate("window.acdLatencies.length = 0")
        await asyncio.sleep(max(0.0, until - time.time()))
        delays: list[float] = await page.evaluate("window.acdLatencies.slice()")
        await browser.close()
    return delays


async def _entered(base: str) -> float:
    """Calls that entered a department so far, from ``/metrics``."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as r:
        text = await r.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("acd_calls_entered_total{")
    )


async def _measure(base: str, user: str, password: str) -> dict[str, Any]:
    start = time.time()
    warmup_until = start + WARMUP_S
    until = warmup_until + MEASURE_S
    browser = asyncio.create_task(_browser(base, user, password, warmup_until, until))
    await asyncio.sleep(max(0.0, warmup_until - time.time()))
    before = await _entered(base)
    bare = await _bare_client(base, user, password, until)
    arrivals = (await _entered(base) - before) / MEASURE_S
    return {"browser": await browser, "bare": bare, "arrivals_per_s": arrivals}


def _wait_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout_s} s")


def main() -> None:
    """Run the three processes, measure for MEASURE_S, print the figures."""
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: install Debian's chromium to run this benchmark")
        return
    ami_port, console_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = _config(folder, ami_port, console_port)
        user, password = "wallboard", secrets.token_urlsafe(16)
        UsersFile(folder / "users.yaml").add(user, Role.VIEWER, password)
        fake = start_fake(ami_port, DEPTS, RATE)
        env = dict(os.environ, ACD_BENCH_AMI_SECRET="change-me")
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "acd.cli",
                "run",
                "-c",
                str(config),
                "--login-all",
                "--status-every",
                "3600",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=(folder / "service.log").open("w"),
        )
        try:
            try:
                _wait_port(console_port, 30.0)
            except RuntimeError:
                print((folder / "service.log").read_text()[-3000:])
                raise
            print(
                f"loopback; fake Asterisk, acd run and Chromium in their own processes; "
                f"{len(DEPTS)} SAMU, {len(DEPTS) * AGENTS} ARM, "
                f"{RATE * len(DEPTS):.0f} arrivals/s offered; {MEASURE_S:.0f} s measured"
            )
            figures = asyncio.run(_measure(f"http://127.0.0.1:{console_port}", user, password))
        finally:
            for proc in (service, fake):
                proc.terminate()
            for proc in (service, fake):
                proc.wait(timeout=15)
    browser, bare = figures["browser"], figures["bare"]
    if not browser or not bare:
        print(f"no push measured (browser {len(browser)}, bare {len(bare)})")
        return
    b, r = _percentiles(browser), _percentiles(bare)
    print(f"  calls entering the engine during the window: {figures['arrivals_per_s']:.0f}/s")
    for label, f in (
        ("engine → wallboard updated in Chromium", b),
        ("baseline: engine → bare WebSocket client", r),
    ):
        print(
            f"  {label}: {f['n']:.0f} pushes, p50 {f['p50']:.1f} ms, p95 {f['p95']:.1f} ms, "
            f"p99 {f['p99']:.1f} ms, max {f['max']:.1f} ms"
        )
    verdict = "met" if b["p95"] <= 250 else "NOT met"
    print(
        f"  browser / bare client: p50 ×{b['p50'] / r['p50']:.2f}, p95 ×{b['p95'] / r['p95']:.2f}"
        f"  (goal browser p95 ≤ 250 ms: {verdict})"
    )


if __name__ == "__main__":
    main()
