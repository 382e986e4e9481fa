"""Two or three `acd run` processes, one fake Asterisk, one journal database: the HA rig.

The rule: every instance runs the same configuration file, each from a directory of its
own (its "host": the relative spool path lands there), against the shared Redis and the
journal database, exactly as `docs/ha.md` deploys them. The rig finds the leader from the
lease row (``<instance>@<host>:<pid>``), reads which epoch sent each action from the
fake's ActionIDs (``acd-<instance>-<start>-e<epoch>-<pbx>-<n>``), and may play systemd
(``Restart=on-failure``, ``RestartPreventExitStatus=2``). Nothing here needs pytest, so
the failover benchmark runs the same rig.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from connectors.asterisk.fake import ActionRecord, Dist, FakeAsterisk, FakeConfig, Fate, Phase

ROOT = Path(__file__).parents[3]
SECRET = "change-me"
SECRET_ENV = "ACD_CHAOS_AMI_SECRET"
DEPT = "75"
PBX = "pbx1"
ACTION_EPOCH = re.compile(r"^acd-.+-\d+-e(?P<epoch>\d+)-.+-\d+$")
ENDED = frozenset({Fate.ANSWERED, Fate.OVERFLOWED, Fate.ABANDONED, Fate.FALLBACK})
"""How a caller may end: connected to an ARM or a partner, hung up, or in the fallback."""
STATE_CHANGING = frozenset({"setvar", "redirect", "hangup", "originate", "atxfer", "blindtransfer"})
"""Actions that act on calls (or on the dialplan's heartbeat); the rest only read or log."""


class RigError(Exception):
    """The rig did not reach what it waited for."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """The ``ha:`` section every instance runs with."""

    ttl_s: float = 2.0
    renew_every_s: float = 0.3
    margin_s: float = 0.5


DEFAULT_TIMING = Timing()
TALK = Dist.uniform(0.5, 1.5)
"""Short talks of varied length: the ARM free up one by one, so routing never pauses."""


def fake_config(*, seed: int = 1, talk: Dist = TALK) -> FakeConfig:
    """ARM phones that answer fast and talk briefly; a fallback queue that answers in 1 s."""
    return FakeConfig(
        ring_delay=Dist.fixed(0.2),
        talk=talk,
        answer_media_s=0.1,
        fallback_answer_delay=Dist.fixed(1.0),
        hangup_linger_s=0.01,
        seed=seed,
    )


def agent_ids(count: int) -> list[str]:
    """The ARM of the test department, ``arm-7501`` on."""
    return [f"arm-{DEPT}{i:02d}" for i in range(1, count + 1)]


def write_config(
    path: Path,
    *,
    name: str,
    ami_port: int,
    redis_url: str,
    journal_url: str,
    agents: int,
    timing: Timing,
) -> Path:
    """One SAMU, ``agents`` ARM, state in Redis, journal in SQL, the given lease timing."""
    arms = "\n".join(
        f'  - {{id: {a}, name: ARM {a}, endpoint: PJSIP/{a}, serves: [{{dept: "{DEPT}"}}]}}'
        for a in agent_ids(agents)
    )
    path.write_text(
        f"""instance: {{name: {name}}}
pbx:
  - {{name: {PBX}, host: 127.0.0.1, port: {ami_port}, username: acd15,
     secret: {{env: {SECRET_ENV}}}}}
redis: {{url: "{redis_url}"}}
journal: {{url: "{journal_url}", spool: journal.spool}}
ha: {{lease_ttl_s: {timing.ttl_s}, renew_every_s: {timing.renew_every_s},
      margin_s: {timing.margin_s}}}
defaults: {{wrapup_s: 0}}
console: {{port: 0}}
departments:
  - {{id: "{DEPT}", name: SAMU de Paris, queues: [{{id: {DEPT}-general}}]}}
agents:
{arms}
""",
        encoding="utf-8",
    )
    return path


def epoch_of(record: ActionRecord) -> int | None:
    """The leadership epoch that sent an action (``None``: sent while standing by)."""
    match = ACTION_EPOCH.search(record.action_id or "")
    return None if match is None else int(match["epoch"])


def first_action_of(
    fake: FakeAsterisk, *, newer_than: int, names: frozenset[str] | None = None
) -> ActionRecord | None:
    """The first action (of ``names``, lower case) the fake received from a newer epoch."""
    for record in fake.actions():
        epoch = epoch_of(record)
        if epoch is None or epoch <= newer_than:
            continue
        if names is None or record.name.lower() in names:
            return record
    return None


def redirected_twice(fake: FakeAsterisk) -> dict[str, int]:
    """Callers sent to acd-dispatch more than once (ARM phones here always answer)."""
    return {u: n for u, n in fake.stats().redirects.items() if n > 1}


def unfinished(fake: FakeAsterisk, callers: Sequence[str]) -> list[str]:
    """Callers not (yet) ended in one of the allowed ways."""
    out = []
    for uid in callers:
        caller = fake.caller(uid)
        if caller is None or caller.fate not in ENDED:
            out.append(uid)
    return out


def waiting_now(fake: FakeAsterisk, callers: Sequence[str]) -> int:
    """Callers in the waiting loop right now."""
    return sum(1 for u in callers if (c := fake.caller(u)) is not None and c.phase is Phase.WAITING)


async def until(check: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Poll ``check`` until true; seconds it took. ``RigError`` naming ``what`` on timeout."""
    started = time.monotonic()
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise RigError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(0.05)


# -- the instances -----------------------------------------------------------------------------


@dataclass
class Node:
    """One `acd run` process and its directory (where its spool and log live)."""

    name: str
    directory: Path
    config: Path
    proc: subprocess.Popen[bytes] | None = None
    exits: list[int] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    """``time.monotonic()`` at each start."""
    ended: list[float] = field(default_factory=list)
    """``time.monotonic()`` when each exit was seen (polled: within 50 ms when supervised)."""

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        return None if self.proc is None else self.proc.pid

    @property
    def log(self) -> Path:
        """Its stdout and stderr."""
        return self.directory / "acd.log"

    def start(self) -> None:
        """`acd run -c <the shared file> --login-all` from its own directory."""
        if self.proc is not None and self.reap() is None:
            raise RigError(f"instance {self.name} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, SECRET_ENV: SECRET, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "acd.cli", "run", "-c", str(self.config), "--login-all",
                 "--status-every", "1"],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.directory, env=env,
            )  # fmt: skip
        self.started.append(time.monotonic())

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` if it runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def reap(self) -> int | None:
        """Its exit status if it ended (recorded once), else ``None``."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is not None:
            self.exits.append(code)
            self.ended.append(time.monotonic())
            self.proc = None
        return code

    async def wait_exit(self, timeout_s: float) -> int:
        """Wait (without blocking the loop) for it to end; its exit status."""
        proc = self.proc
        if proc is None:
            return self.exits[-1]
        await until(lambda: proc.poll() is not None, timeout_s, f"{self.name} exits")
        code = self.reap()
        return proc.returncode if code is None else code


class Cluster:
    """The instances of one test; ``supervise()`` restarts them as systemd would."""

    RESTART_PREVENT = frozenset({0, 2})
    """Clean stop, or a configuration error (``RestartPreventExitStatus=2``)."""
    CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})
    """Signals after which ``Restart=on-failure`` does not restart."""

    def __init__(self, config: Path, root: Path, names: Sequence[str] = ("a", "b")) -> None:
        self.nodes = [Node(n, root / f"node-{n}", config) for n in names]
        self.restarts = 0
        self._supervisor: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start every instance (all of them come up as standbys)."""
        for node in self.nodes:
            node.start()

    def supervise(self, restart_s: float = 0.5) -> None:
        """``Restart=on-failure``, ``RestartPreventExitStatus=2``, ``RestartSec=restart_s``."""

        async def watch() -> None:
            while True:
                for node in self.nodes:
                    code = node.reap()
                    if code is None or code in self.RESTART_PREVENT:
                        continue
                    if code >= 0 or signal.Signals(-code) not in self.CLEAN_SIGNALS:
                        await asyncio.sleep(restart_s)
                        node.start()
                        self.restarts += 1
                await asyncio.sleep(0.05)

        self._supervisor = asyncio.create_task(watch())

    def unsupervise(self) -> None:
        """Stop restarting instances."""
        if self._supervisor is not None:
            self._supervisor.cancel()
            self._supervisor = None

    def node_of(self, holder: str) -> Node:
        """The instance behind a lease holder ``<instance>@<host>:<pid>``."""
        pid = int(holder.rsplit(":", 1)[1])
        for node in self.nodes:
            if node.pid == pid:
                return node
        raise RigError(f"no running instance is the holder {holder}")

    def running(self) -> list[Node]:
        """Instances whose process runs."""
        return [n for n in self.nodes if n.proc is not None and n.proc.poll() is None]

    async def stop(self, timeout_s: float = 15.0) -> dict[str, int]:
        """SIGTERM every running instance (SIGCONT first: a frozen one must hear it).

        Returns the exit status of each instance it stopped.
        """
        self.unsupervise()
        running = self.running()
        for node in running:
            node.signal(signal.SIGCONT)
            node.signal(signal.SIGTERM)
        for node in self.nodes:
            node.reap()  # those that had ended already: their status is in ``exits``
        out: dict[str, int] = {}
        for node in running:
            try:
                out[node.name] = await node.wait_exit(timeout_s)
            except RigError:
                node.signal(signal.SIGKILL)
                out[node.name] = await node.wait_exit(5.0)
        return out

    def kill_all(self) -> None:
        """Last resort in a ``finally``: SIGKILL whatever still runs, and reap it."""
        self.unsupervise()
        for node in self.nodes:
            if node.proc is not None:
                node.signal(signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node.proc.wait(5.0)
                node.reap()

    def tail(self, lines: int = 40) -> str:
        """The end of every instance's log (for a failure's message)."""
        out = []
        for node in self.nodes:
            if node.log.exists():
                text = node.log.read_text(encoding="utf-8", errors="replace").splitlines()
                out.append(f"--- node {node.name} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)


async def start_fake(*, agents: int, seed: int = 1, talk: Dist = TALK) -> FakeAsterisk:
    """The fake Asterisk with the department's ARM phones registered (they always answer)."""
    fake = await FakeAsterisk(fake_config(seed=seed, talk=talk)).start()
    for agent in agent_ids(agents):
        fake.set_agent(f"PJSIP/{agent}", registered=True, answers=True)
    return fake


def heartbeat_age(fake: FakeAsterisk) -> float | None:
    """Seconds since the dialplan heartbeat was last refreshed (``None``: never)."""
    beat = fake.global_var("ACD_HEARTBEAT")
    return None if not beat else fake.clock.epoch() - float(beat)


def beating(fake: FakeAsterisk, within_s: float = 2.0) -> bool:
    """Whether the heartbeat was refreshed within ``within_s`` (whole seconds, as the dialplan)."""
    age = heartbeat_age(fake)
    return age is not None and age < within_s


def heartbeat_gap(fake: FakeAsterisk) -> float:
    """The widest gap between two heartbeat Setvars the fake received (seconds)."""
    beats = [r.at for r in fake.actions("setvar") if r.get("Variable") == "ACD_HEARTBEAT"]
    return max((b - a for a, b in itertools.pairwise(beats)), default=0.0)


def fates(fake: FakeAsterisk, callers: Iterable[str]) -> Counter[str]:
    """How these callers ended (``waiting`` while not yet)."""
    return Counter(c.fate.value for u in callers if (c := fake.caller(u)) is not None)


def fallback_reasons(fake: FakeAsterisk, callers: Iterable[str]) -> Counter[str]:
    """Why the dialplan sent these callers to its fallback (``ACD_FALLBACK_REASON``)."""
    return Counter(
        c.channel.vars.get("ACD_FALLBACK_REASON", "-")
        for u in callers
        if (c := fake.caller(u)) is not None
    )
