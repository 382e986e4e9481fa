"""The one wiring point: configuration in, engine, PBX links, dispatcher and reload out."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from acd.ami.frames import Frame
from acd.ami.translate import HEARTBEAT_VAR
from acd.config import ConfigError, SecretError, build_engine_spec, resolve_secret
from acd.console.server import ConsoleServer
from acd.console.stream import Feed
from acd.core.engine import Engine
from acd.lifecycle import Service, run_service, take_over
from acd.runtime.dispatcher import Dispatcher
from acd.runtime.hot import HotStateWriter, PartnerLoadReader
from acd.runtime.leadership import Leadership, LeaseTiming
from acd.runtime.reload import ConfigReloader, LoadedConfig, engine_applier
from acd.storage import Storage, build_storage
from connectors.asterisk.client import AmiClient
from connectors.asterisk.pbx import AmiPbx
from connectors.sql import SchemaOutdated

log = logging.getLogger("acd.service")

__all__ = ["PbxTarget", "Service", "build_service", "connect_pbx", "register_run", "run_service"]

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass(frozen=True, slots=True, kw_only=True)
class PbxTarget:
    """Where to reach one PBX instead of the configured address (demonstrations, tests)."""

    host: str
    port: int
    username: str
    secret: str


def build_service(
    config_path: str,
    *,
    clock: Callable[[], float] = time.time,
    targets: dict[str, PbxTarget] | None = None,
    storage: Storage | None = None,
) -> Service:
    """Wire the service from its configuration file (secrets are read here, not before)."""
    reloader = ConfigReloader(config_path, apply=None)
    cfg = reloader.current.config
    spec = build_engine_spec(cfg)
    epoch = int(clock())
    engine = Engine(spec, route_prefix=f"{cfg.instance.name}-{epoch}-")
    storage = storage or build_storage(cfg)
    hot_writer = HotStateWriter(engine=engine, store=storage.hot, clock=clock)
    feed = None
    if cfg.console.enabled:
        feed = Feed(
            engine=engine,
            config=lambda: reloader.current.config.console,
            clock=clock,
        )
    holder = f"{cfg.instance.name}@{socket.gethostname()}:{os.getpid()}"
    pbxs: dict[str, AmiPbx] = {}
    dispatcher = Dispatcher(
        engine=engine,
        pbxs=pbxs,
        journal=storage,
        clock=clock,
        config_version=lambda: reloader.current.label,
        listeners=(hot_writer.on_decision,)
        if feed is None
        else (hot_writer.on_decision, feed.on_decision),
    )
    apply_to_engine = engine_applier(engine, clock=clock)

    def apply(new: LoadedConfig, old: LoadedConfig) -> None:
        apply_to_engine(new, old)
        storage.record_config(
            dispatcher.journaling, version=new.label, path=config_path, at=new.loaded_at
        )

    reloader.apply = apply
    partner_loads = PartnerLoadReader(
        store=storage.hot, partners=lambda: list(engine.externals), submit=dispatcher.submit
    )
    clients = []
    action_prefix = f"acd-{cfg.instance.name}-{epoch}"
    for endpoint in cfg.pbx:
        target = (targets or {}).get(endpoint.name) or PbxTarget(
            host=endpoint.host,
            port=endpoint.port,
            username=endpoint.username,
            secret=resolve_secret(endpoint.secret),
        )
        pbx = connect_pbx(
            name=endpoint.name,
            host=target.host,
            port=target.port,
            username=target.username,
            secret=target.secret,
            tls=ssl.create_default_context() if endpoint.tls else None,
            action_id_prefix=f"{action_prefix}-{endpoint.name}",
            dispatcher=dispatcher,
            heartbeat_var=endpoint.heartbeat_var,
        )
        pbxs[endpoint.name] = pbx
        clients.append(pbx.client)
    dispatcher.pbxs = dict(pbxs)
    ha = cfg.ha
    service: Service

    async def promoted(epoch: int) -> None:
        await take_over(service, epoch)

    def lost(why: str) -> None:
        service.on_lost(why)

    leadership = Leadership(
        lease=storage.lease,
        holder=holder,
        timing=LeaseTiming(
            ttl_s=ha.lease_ttl_s, renew_every_s=ha.renew_every_s, margin_s=ha.margin_s
        ),
        on_promoted=promoted,
        on_lost=lost,
    )
    service = Service(
        reloader=reloader,
        engine=engine,
        dispatcher=dispatcher,
        pbxs=pbxs,
        clients=clients,
        storage=storage,
        hot_writer=hot_writer,
        partner_loads=partner_loads,
        leadership=leadership,
        action_prefix=action_prefix,
    )
    if feed is not None:
        try:
            service.console = ConsoleServer(service, feed=feed, clock=clock)
        except Exception:  # the console is not worth a caller: route without it
            log.exception("console not built, routing goes on without it")
        else:
            feed.snapshot = service.console.snapshot
    return service


def connect_pbx(
    *,
    name: str,
    host: str,
    port: int,
    username: str,
    secret: str,
    action_id_prefix: str,
    dispatcher: Dispatcher,
    tls: ssl.SSLContext | None = None,
    heartbeat_var: str = HEARTBEAT_VAR,
    **client_options: Any,
) -> AmiPbx:
    """One PBX link: an AMI client whose frames and logins feed the dispatcher."""
    hooks = _Hooks()
    client = AmiClient(
        name=name,
        host=host,
        port=port,
        username=username,
        secret=secret,
        tls=tls,
        action_id_prefix=action_id_prefix,
        on_frame=hooks.on_frame,
        on_connected=hooks.on_connected,
        **client_options,
    )
    hooks.pbx = AmiPbx(
        name=name,
        client=client,
        sink=dispatcher.submit,
        resync=dispatcher.submit_resync,
        routes=dispatcher.routes_in_force,
        on_login=dispatcher.beat_now,
        heartbeat_var=heartbeat_var,
    )
    return hooks.pbx


class _Hooks:
    """Client callbacks bound to the PBX adapter built right after the client."""

    pbx: AmiPbx

    def on_frame(self, frame: Frame) -> None:
        self.pbx.on_frame(frame)

    async def on_connected(self) -> None:
        await self.pbx.on_connected()


def register_run(subparsers: Subparsers) -> None:
    """``acd run -c FILE [--login-all]``: the service (active or standby, by the lease)."""
    cmd = subparsers.add_parser(
        "run",
        help="run the ACD service against the configured Asterisk servers",
        description="Route calls: connect to every PBX of the configuration over AMI; the "
        "instance holding the lease (in the journal database) keeps the dialplan heartbeat "
        "fresh and routes, the others stand by and take over when it lapses. Resync after "
        "every (re)connect and takeover, reload the overflow rules on SIGHUP or when the file "
        "changes; SIGTERM stops taking decisions, lets the actions under way finish and "
        "releases the lease. Exit status 3: the lease was lost (restart as a standby).",
    )
    cmd.add_argument("-c", "--config", default="configs/acd.yaml", help="YAML configuration")
    cmd.add_argument(
        "--login-all",
        action="store_true",
        help="log every configured agent in at start (demonstrations and tests)",
    )
    cmd.add_argument("--status-every", type=float, default=5.0, help="seconds between status lines")
    cmd.set_defaults(handler=_run_command)


def _run_command(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        service = build_service(args.config)
    except ConfigError as err:
        for issue in err.issues:
            print(issue, file=sys.stderr)
        return 2
    except SecretError as err:
        print(f"{args.config}: {err}", file=sys.stderr)
        return 2
    with contextlib.suppress(ImportError):
        import uvloop  # noqa: PLC0415 - optional speed-up, used when installed

        uvloop.install()
    try:
        asyncio.run(
            run_service(
                service, login_all=args.login_all, status_every_s=args.status_every, out=sys.stdout
            )
        )
    except SchemaOutdated as err:
        print(f"{args.config}: {err}", file=sys.stderr)
        return 2
    if service.lost.is_set():
        print("leadership lost: stopped (restart me as a standby)", file=sys.stderr)
        return 3
    return 0
