"""The ``livemod`` command line."""
from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import sys
from pathlib import Path
from typing import Awaitable, Callable, Sequence, TypeVar

import orjson

from . import logsafe
from .settings import Settings, SettingsError

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise SystemExit(f"livemod: configuration error: {exc}") from None


def _rules(settings: Settings, lexicon_dir: Path | None = None):
    from .rules import ReloadingRules, RulebookError

    try:
        return ReloadingRules(lexicon_dir or settings.lexicon_dir)
    except RulebookError as exc:
        raise SystemExit(f"livemod: {exc}") from None


def _run_kafka(settings: Settings, make: Callable[[], Awaitable[T]]) -> T:
    """Run a Kafka coroutine after checking the broker answers: a refusal (credentials,
    certificate) or an unreachable broker ends the command with one clear line."""
    from .topics import TopicSetupError, wait_for_broker

    async def main() -> T:
        await wait_for_broker(settings, settings.startup_deadline_s)
        return await make()

    try:
        return asyncio.run(main())
    except TopicSetupError as exc:
        raise SystemExit(f"livemod: {exc}") from None


def cmd_worker(args: argparse.Namespace) -> int:
    from .topics import TopicSetupError, check_topics, wait_for_broker
    from .worker import Worker

    settings = _settings()
    logsafe.install()
    logging.basicConfig(level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    async def preflight() -> None:
        await wait_for_broker(settings, settings.startup_deadline_s)
        await check_topics(settings)

    try:
        asyncio.run(preflight())
    except TopicSetupError as exc:
        print(f"livemod worker: {exc}", file=sys.stderr)
        return 2
    worker = Worker(settings)
    # The rulebook holds millions of long-lived objects (jieba dictionaries, automata);
    # frozen, the cyclic GC stops re-walking them, which otherwise stalls the loop for
    # hundreds of milliseconds on every full collection.
    gc.freeze()
    if settings.metrics_port:
        from . import metrics

        metrics.start_metrics_server(settings.metrics_port, settings.metrics_host)
    asyncio.run(worker.run())
    return 0


def cmd_topics(args: argparse.Namespace) -> int:
    from .topics import TOPICS, TopicSetupError, create_topics, topic_configs

    settings = _settings()
    if args.action == "list":
        for spec in TOPICS:
            cfg = topic_configs(spec, settings)
            print(f"{settings.topic(spec.name):24} partitions={settings.partitions} key={spec.key:24} {cfg}  # {spec.purpose}")
        return 0
    try:
        created = asyncio.run(create_topics(settings))
    except TopicSetupError as exc:
        print(f"livemod topics: {exc}", file=sys.stderr)
        return 2
    print(f"created {len(created)} topic(s): {', '.join(created) or '-'} (others already existed)")
    return 0


def _input(path: str):
    return sys.stdin.buffer if path == "-" else open(path, "rb")


def cmd_scan(args: argparse.Namespace) -> int:
    from .scan import scan_verdicts, scanner, verdict_line

    settings = _settings()
    scan = scanner(_rules(settings, args.lexicons), settings)
    out = sys.stdout.buffer
    with _input(args.file) as fh:
        for number, _obj, verdict in scan_verdicts(fh, scan):
            out.write(orjson.dumps(verdict_line(number, verdict)) + b"\n")
    out.flush()
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import evaluate, format_report

    settings = _settings()
    report = evaluate([Path(f) for f in args.files], _rules(settings, args.lexicons), settings)
    print(format_report(report, show_mistakes=not args.quiet))
    return 0


def cmd_lexicon_check(args: argparse.Namespace) -> int:
    from .rules import RulebookError, load_rulebook

    directory = Path(args.dir or _settings().lexicon_dir)
    try:
        rules = load_rulebook(directory)
    except RulebookError as exc:
        print(f"livemod lexicon check: {exc}", file=sys.stderr)
        return 1
    print(f"ok: {directory}: lexicons {rules.lexicon_version}; policy {rules.policy_version}")
    return 0


def cmd_policy_test(args: argparse.Namespace) -> int:
    from .policy_tests import main as policy_tests_main

    return policy_tests_main([args.file, *(["--policy", args.policy] if args.policy else [])])


def _operator(args: argparse.Namespace) -> str:
    import getpass

    return args.operator or getpass.getuser()


def cmd_signal(args: argparse.Namespace) -> int:
    import time

    from .enforcement import manual_signal
    from .kafka_io import publish

    settings = _settings()
    op = "cut" if args.command == "cutoff" else "restore"
    outputs = manual_signal(op, args.room, args.reason, _operator(args), round(time.time(), 3))
    _run_kafka(settings, lambda: publish(settings, outputs))
    print(f"{op} signal for room {args.room} published ({outputs[0].value['cutoff_id']}), audited on mod.actions")
    return 0


def cmd_ban(args: argparse.Namespace) -> int:
    import time

    from .kafka_io import publish_ban
    from .policy import ban_key

    settings = _settings()
    key = ban_key(args.role, args.subject)
    value = None
    if args.action == "add":
        expires = None if args.days is None else round(time.time() + args.days * 86400, 3)
        value = {"role": args.role, "subject_id": args.subject, "reason": args.reason,
                 "expires_at": expires, "operator": _operator(args)}
    _run_kafka(settings, lambda: publish_ban(settings, key, value))
    print(f"{'banned' if value else 'lifted ban on'} {key}")
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from .kafka_io import replay

    settings = _settings()
    with _input(args.file) as fh:
        sent, skipped = _run_kafka(settings, lambda: replay(settings, fh, rate=args.rate))
    print(f"produced {sent} event(s), skipped {skipped} unreadable line(s)", file=sys.stderr)
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    from contextlib import aclosing

    from .kafka_io import follow
    from .render import matches, render

    settings = _settings()

    async def run() -> None:
        printed = 0
        async with aclosing(follow(settings, args.topics, args.from_beginning, args.idle_exit)) as records:
            async for topic, record in records:
                if not matches(record, room=args.room, severity=args.severity, detector=args.detector,
                               measure=args.measure):
                    continue
                line = orjson.dumps(record).decode() if args.json else render(topic, record, color=sys.stdout.isatty())
                print(line, flush=True)
                printed += 1
                if printed == args.limit:  # --from-beginning on a long-lived topic would never end
                    return

    try:
        _run_kafka(settings, run)
    except KeyboardInterrupt:
        pass
    return 0


def cmd_settings(_args: argparse.Namespace) -> int:
    for name, value in _settings().masked().items():
        print(f"{name} = {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .topics import OUTPUT_TOPICS

    parser = argparse.ArgumentParser(prog="livemod", description="Real-time moderation for live-stream commerce.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run the stream worker (config from LIVEMOD_* variables)")
    p.add_argument("--loglevel", default="info")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("topics", help="create or list livemod's topics")
    p.add_argument("action", choices=["create", "list"])
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("scan", help="judge a JSONL file of events offline, one verdict per line")
    p.add_argument("file", nargs="?", default="-")
    p.add_argument("--lexicons", type=Path, help="lexicon directory (default: LIVEMOD_LEXICON_DIR)")
    p.set_defaults(func=cmd_scan)

    p = sub.add_parser("eval", help="precision/recall of the detectors on labeled corpus files")
    p.add_argument("files", nargs="+")
    p.add_argument("--lexicons", type=Path)
    p.add_argument("--quiet", action="store_true", help="scores only, no list of misses")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("lexicon", help="lexicon tools")
    p.add_argument("action", choices=["check"])
    p.add_argument("dir", nargs="?")
    p.set_defaults(func=cmd_lexicon_check)

    p = sub.add_parser("policy", help="policy tools")
    p.add_argument("action", choices=["test"])
    p.add_argument("file", nargs="?", default="lexicons/policy_tests.yaml")
    p.add_argument("--policy", help="policy file (default: the test file's 'policy:')")
    p.set_defaults(func=cmd_policy_test)

    for name, what in (("cutoff", "publish a manual cutoff signal for a room"),
                       ("restore", "publish a manual restore signal for a room")):
        p = sub.add_parser(name, help=what)
        p.add_argument("room")
        p.add_argument("--reason", required=True)
        p.add_argument("--operator", help="who is acting (default: the login name)")
        p.set_defaults(func=cmd_signal)

    p = sub.add_parser("ban", help="add or lift a market ban (mod.banlist)")
    p.add_argument("action", choices=["add", "lift"])
    p.add_argument("--role", choices=["anchor", "merchant"], required=True)
    p.add_argument("--subject", required=True)
    p.add_argument("--reason", default="")
    p.add_argument("--days", type=float, help="ban length in days (default: no expiry)")
    p.add_argument("--operator")
    p.set_defaults(func=cmd_ban)

    p = sub.add_parser("produce", help="replay a JSONL session into the input topics")
    p.add_argument("file", nargs="?", default="-")
    p.add_argument("--rate", type=float, default=0.0, help="events per second (default: as fast as possible)")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("tail", help="follow output topics")
    p.add_argument("--topics", nargs="+", default=[t for t in OUTPUT_TOPICS if t != "mod.enforce"],
                   choices=[*OUTPUT_TOPICS, "mod.banlist"])
    p.add_argument("--room")
    p.add_argument("--severity", choices=["low", "medium", "high", "critical"], help="alerts at or above")
    p.add_argument("--detector")
    p.add_argument("--measure")
    p.add_argument("--json", action="store_true")
    p.add_argument("--from-beginning", action="store_true")
    p.add_argument("--idle-exit", type=float, default=0.0, help="exit after this many seconds without records")
    p.add_argument("--limit", type=int, default=0, help="exit after printing this many records (0: no limit)")
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("settings", help="print the effective settings (secrets masked)")
    p.set_defaults(func=cmd_settings)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
