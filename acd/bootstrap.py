"""The one wiring point: configuration in, engine, PBX links, dispatcher and reload out."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import ssl
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from acd.ami.frames import Frame
from acd.ami.translate import HEARTBEAT_VAR
from acd.config import ConfigError, SecretError, build_engine_spec, resolve_secret
from acd.core import events as ev
from acd.core.engine import Engine
from acd.runtime.dispatcher import Dispatcher
from acd.runtime.heap import settle_heap
from acd.runtime.hot import HotStateWriter, PartnerLoadReader
from acd.runtime.reload import ConfigReloader, LoadedConfig, engine_applier
from acd.storage import Storage, build_storage, embedded_journal
from connectors.asterisk.client import AmiClient
from connectors.asterisk.pbx import AmiPbx
from connectors.sql import SchemaOutdated

log = logging.getLogger("acd.service")

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclass
class Service:
    """Everything ``acd run`` starts, in the order it starts them."""

    reloader: ConfigReloader
    engine: Engine
    dispatcher: Dispatcher
    pbxs: dict[str, AmiPbx]
    clients: list[AmiClient]
    storage: Storage
    hot_writer: HotStateWriter
    partner_loads: PartnerLoadReader
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


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
    pbxs: dict[str, AmiPbx] = {}
    dispatcher = Dispatcher(
        engine=engine,
        pbxs=pbxs,
        journal=storage,
        clock=clock,
        config_version=lambda: reloader.current.label,
        listeners=(hot_writer.on_decision,),
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
            action_id_prefix=f"acd-{cfg.instance.name}-{epoch}-{endpoint.name}",
            dispatcher=dispatcher,
            heartbeat_var=endpoint.heartbeat_var,
        )
        pbxs[endpoint.name] = pbx
        clients.append(pbx.client)
    dispatcher.pbxs = dict(pbxs)
    return Service(
        reloader=reloader,
        engine=engine,
        dispatcher=dispatcher,
        pbxs=pbxs,
        clients=clients,
        storage=storage,
        hot_writer=hot_writer,
        partner_loads=partner_loads,
    )


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


async def run_service(
    service: Service,
    *,
    login_all: bool = False,
    status_every_s: float = 5.0,
    out: TextIO | None = None,
    stop: asyncio.Event | None = None,
    create_schema: bool | None = None,
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``): route, keep the heartbeat, reload on SIGHUP.

    ``create_schema``: create the journal's tables if missing (default: only for an
    embedded SQLite journal; a shared database is upgraded with ``acd db upgrade``).
    """
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    try:
        await _resume(service, create_schema=create_schema)
    except BaseException:
        await service.storage.close(0.0)  # e.g. SchemaOutdated: nothing was started
        raise
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    service.reloader.install_sighup(loop)
    d = service.dispatcher
    if login_all:
        for agent in service.engine.spec.agents:
            d.submit(ev.AgentLoggedIn(agent=agent.id))
    service.tasks = [
        asyncio.create_task(d.run(), name="dispatcher"),
        asyncio.create_task(d.heartbeat(), name="heartbeat"),
        asyncio.create_task(service.reloader.watch(), name="config-watch"),
        asyncio.create_task(service.hot_writer.run(), name="hot-state-writer"),
        asyncio.create_task(service.partner_loads.run(), name="partner-loads"),
    ]
    if out is not None:
        service.tasks.append(asyncio.create_task(_status(service, out, status_every_s)))
    for client in service.clients:
        await client.start()
    settle_heap()
    try:
        await stop.wait()
    finally:
        log.info("stopping: no new decision, letting actions under way finish")
        service.reloader.remove_sighup(loop)
        await d.stop()
        for task in service.tasks:
            task.cancel()
        for task in service.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for client in service.clients:
            await client.close()
        await _last_writes(service)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _resume(service: Service, *, create_schema: bool | None) -> None:
    """Open the storage, then pick up where the hot state left off (if it can be read)."""
    cfg = service.reloader.current
    if create_schema is None:
        create_schema = embedded_journal(cfg.config.journal.url)
    await service.storage.open(create_schema=create_schema)
    log.info("storage: %s", service.storage.description)
    clock = service.dispatcher.clock
    service.storage.record_config(
        service.dispatcher.journaling,
        version=cfg.label,
        path=str(service.reloader.path),
        at=cfg.loaded_at,
    )
    try:
        snapshot = await service.storage.hot.load()
    except Exception as err:  # the PBX resync adopts the waiting callers all the same
        log.warning("hot state unreadable at start (%s): starting from the PBX alone", err)
    else:
        done = service.engine.restore(
            list(snapshot.calls.values()), list(snapshot.agents.values()), clock()
        )
        for ident, why in done.skipped:
            log.warning("hot state: %s not restored: %s", ident, why)
        if done.calls or done.agents:
            log.info("hot state: %d call(s), %d agent(s) restored", done.calls, done.agents)
        service.dispatcher.carry_out(done.commands)
    service.hot_writer.mark_everything()


async def _last_writes(service: Service, timeout_s: float = 5.0) -> None:
    """Write the last hot-state changes and let the journal reach SQL (or the spool)."""
    batch = service.hot_writer.take()
    if batch:
        try:
            await asyncio.wait_for(service.storage.hot.write(batch, epoch=0), timeout_s)
        except Exception as err:
            log.warning("last hot-state write failed: %s", err)
    await service.storage.close(timeout_s)


async def _status(service: Service, out: TextIO, every_s: float) -> None:
    """Print one line per department: waiting, longest wait, agents free, answered."""
    while True:
        await asyncio.sleep(every_s)
        now = service.dispatcher.clock()
        links = " ".join(f"{c.name}:{'up' if c.logged_in else 'down'}" for c in service.clients)
        journal = await service.storage.metrics()
        age = "" if journal.oldest_age_s is None else f", oldest {journal.oldest_age_s:.0f}s"
        lines = [
            f"-- {time.strftime('%H:%M:%S')}  PBX {links}  config {service.reloader.current.label}"
            f"  journal backlog {journal.backlog}{age}"
        ]
        for dept in service.engine.spec.departments:
            s = service.engine.dept_stats(dept.id, now)
            sl = "-" if s.service_level is None else f"{100 * s.service_level:.0f}%"
            lines.append(
                f"{dept.id:>4} waiting {s.waiting:>3}  longest {s.longest_wait_s:>5.0f}s  "
                f"free {s.available_agents:>2}/{s.logged_in_agents:<2}  answered {s.answered:>4} "
                f"(≤60s {sl})  abandoned {s.abandoned:>3}  overflow out {s.overflowed_out:>3} "
                f"in {s.overflowed_in:>3}  fallback {s.fallback:>3}"
            )
        print("\n".join(lines), file=out, flush=True)


def register_run(subparsers: Subparsers) -> None:
    """``acd run -c FILE [--login-all]``: the service."""
    cmd = subparsers.add_parser(
        "run",
        help="run the ACD service against the configured Asterisk servers",
        description="Route calls: connect to every PBX of the configuration over AMI, keep "
        "the dialplan heartbeat fresh, resync after every (re)connect, reload the overflow "
        "rules on SIGHUP or when the file changes; SIGTERM stops taking decisions and lets "
        "the actions under way finish.",
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
    return 0
