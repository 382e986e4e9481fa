"""``python -m connectors.asterisk.fake``: a fake Asterisk with generated 15 traffic on 5038."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from connectors.asterisk.fake.config import FakeConfig
from connectors.asterisk.fake.server import FakeAsterisk
from connectors.asterisk.fake.traffic import Dist, TrafficSpec


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m connectors.asterisk.fake",
        description="Fake Asterisk: AMI on TCP, the acd15 dialplan contract, Poisson callers.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--depts", default="75,92", help="comma-separated départements")
    parser.add_argument("--rate", type=float, default=0.05, help="calls per second per dept")
    parser.add_argument("--agents", type=int, default=3, help="registered phones per dept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--username", default="acd15")
    parser.add_argument("--secret", default="change-me")
    parser.add_argument("--scale", type=float, default=1.0, help="loop seconds per model second")
    parser.add_argument("--patience", type=float, default=120.0, help="mean patience (s)")
    parser.add_argument("--talk", type=float, default=90.0, help="mean talk time (s)")
    parser.add_argument("--no-answer", type=float, default=0.05, help="P(phone not answered)")
    parser.add_argument(
        "--answer-unknown", action="store_true", help="any dialled endpoint is a phone"
    )
    parser.add_argument("--stats-every", type=float, default=30.0, help="0: never")
    return parser.parse_args(argv)


def agent_endpoints(depts: Sequence[str], per_dept: int) -> list[str]:
    """``PJSIP/arm-7501``... the naming of configs/acd.yaml."""
    return [f"PJSIP/arm-{dept}{i:02d}" for dept in depts for i in range(1, per_dept + 1)]


async def serve(args: argparse.Namespace) -> None:
    """Run until SIGINT or SIGTERM."""
    depts = [d.strip() for d in args.depts.split(",") if d.strip()]
    config = FakeConfig(
        host=args.host,
        port=args.port,
        username=args.username,
        secret=args.secret,
        seed=args.seed,
        scale=args.scale,
        no_answer_p=args.no_answer,
        talk=Dist.lognormal(args.talk),
        answer_unknown_endpoints=args.answer_unknown,
    )
    traffic = TrafficSpec(
        rates=dict.fromkeys(depts, args.rate),
        patience=Dist.exponential(args.patience),
        talk=Dist.lognormal(args.talk),
        seed=args.seed,
    )
    fake = await FakeAsterisk(config, traffic=traffic).start()
    fake.register_agents(agent_endpoints(depts, args.agents))
    fake.start_traffic()
    print(f"fake Asterisk on {fake.host}:{fake.port}, depts {','.join(depts)}", file=sys.stderr)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            timeout = args.stats_every if args.stats_every > 0 else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout)
            if args.stats_every > 0 and not stop.is_set():
                stats = fake.stats()
                print(f"callers {stats.callers} {dict(stats.fates)}", file=sys.stderr)
    finally:
        await fake.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
