"""``acd demo``: the real service against a fake Asterisk with generated "15" traffic."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import sys
from typing import TYPE_CHECKING

from acd.bootstrap import PbxTarget, build_service, run_service
from acd.config import ConfigError, load_config
from acd.console.roles import Role
from acd.console.users import UsersFile
from connectors.asterisk.fake import Dist, FakeAsterisk, FakeConfig, TrafficSpec

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]

log = logging.getLogger("acd.demo")


async def demo(
    config_path: str, *, rate: float, seed: int, status_every_s: float, duration_s: float | None
) -> int:
    """Start a fake Asterisk on a free loopback port, then ``acd run`` against it."""
    cfg = load_config(config_path)
    fake_cfg = FakeConfig(port=0, seed=seed, no_answer_p=0.05, talk=Dist.lognormal(60.0))
    fake = await FakeAsterisk(fake_cfg).start()
    try:
        fake.register_agents(agent.endpoint for agent in cfg.agents)
        targets = {
            pbx.name: PbxTarget(
                host="127.0.0.1", port=fake.port, username=fake_cfg.username, secret=fake_cfg.secret
            )
            for pbx in cfg.pbx[:1]
        }
        service = build_service(config_path, targets=targets)
        login = _demo_admin(cfg.console.auth.users_file) if service.console is not None else None
        depts = [d.id for d in cfg.departments]
        fake.start_traffic(
            TrafficSpec(
                rates=dict.fromkeys(depts, rate), patience=Dist.exponential(90.0), seed=seed
            )
        )
        print(
            f"fake Asterisk on 127.0.0.1:{fake.port}: {len(depts)} SAMU, "
            f"{rate:g} call/s each, {len(cfg.agents)} ARM phones; Ctrl-C to stop",
            flush=True,
        )
        if service.console is not None and login is not None:
            print(
                f"console: user {login[0]}, password {login[1]} (new at every start; "
                f"the address follows once it listens)",
                flush=True,
            )
        stop = asyncio.Event()
        if duration_s is not None:
            asyncio.get_running_loop().call_later(duration_s, stop.set)
        await run_service(
            service, login_all=True, status_every_s=status_every_s, out=sys.stdout, stop=stop
        )
        print(f"fake Asterisk callers: {dict(fake.stats().fates)}", flush=True)
    finally:
        fake.stop_traffic()
        await fake.stop()
    return 0


DEMO_ADMIN = "admin"


def _demo_admin(users_file: str) -> tuple[str, str]:
    """A console admin for the demonstration, with a new random password at every start."""
    password = secrets.token_urlsafe(12)
    UsersFile(users_file).add(DEMO_ADMIN, Role.ADMIN, password, replace=True)
    return DEMO_ADMIN, password


def register_demo(subparsers: Subparsers) -> None:
    """``acd demo [-c FILE] [--rate R] [--seed N] [--duration S]``."""
    cmd = subparsers.add_parser(
        "demo",
        help="run the service against a fake Asterisk with generated traffic",
        description="Starts a fake Asterisk (AMI on loopback, the dialplan contract, Poisson "
        "callers, ARM phones that ring, answer and hang up), then the real service against "
        "it with every configured agent logged in. Stops on Ctrl-C or after --duration.",
    )
    cmd.add_argument("-c", "--config", default="configs/acd.yaml", help="YAML configuration")
    cmd.add_argument("--rate", type=float, default=0.1, help="calls per second per SAMU")
    cmd.add_argument("--seed", type=int, default=1)
    cmd.add_argument("--status-every", type=float, default=2.0)
    cmd.add_argument("--duration", type=float, default=None, help="seconds, then stop")
    cmd.set_defaults(handler=_demo_command)


def _demo_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    try:
        load_config(args.config)
    except ConfigError as err:
        for issue in err.issues:
            print(issue, file=sys.stderr)
        return 2
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(
            demo(
                args.config,
                rate=args.rate,
                seed=args.seed,
                status_every_s=args.status_every,
                duration_s=args.duration,
            )
        )
    return 0
