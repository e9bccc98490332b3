"""``cxpulse``: the command line. Every failure a user can cause ends in one clear line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from streams.cli import forget as forget_cli
from streams.cli import keys as keys_cli
from streams.cli.render import scores_table, show
from streams.cli.screen import WINDOWS as WINDOW_CHOICES
from streams.config import WORKER_ROLES, ConfigError, Settings
from streams.console import say
from streams.core.units import parse_duration, parse_time
from streams.kafka import KafkaError, admin
from streams.kafka.broker import BrokerError
from streams.kafka.security import KafkaSecurity
from streams.warehouse import WarehouseError, connect, database_of
from streams.warehouse.migrate import migrate, render

USER_ERRORS = (ConfigError, KafkaError, BrokerError, WarehouseError, OSError, ValueError)


@contextlib.contextmanager
def pipeline_ready(settings: Settings, *, start_local: bool) -> Iterator[Settings]:
    """Kafka reachable with topics, ClickHouse migrated: the settings to run with."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with admin.bootstrap_for(settings.kafka_bootstrap, settings.data_dir,
                             KafkaSecurity.of(settings), start_local=start_local) as bootstrap:
        created = admin.create_topics(bootstrap, settings.partitions, KafkaSecurity.of(settings))
        if created:
            say(f"created topics {', '.join(created)} ({settings.partitions} partitions)")
        warehouse = connect(settings.warehouse_url)
        applied = migrate(warehouse, settings.clickhouse_cluster)
        say(f"warehouse {warehouse.description}: "
            + (f"applied {', '.join(applied)}" if applied else "schema up to date"))
        yield dataclasses.replace(settings, kafka_bootstrap=bootstrap)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.role:
        settings = dataclasses.replace(settings, worker_role=args.role)
    if settings.worker_role == "enrich" and not settings.comment_enrich:
        raise ValueError("an enrich worker needs the comment model: CX_COMMENT_ENRICH=off "
                         "leaves it nothing to do")
    with pipeline_ready(settings, start_local=True) as ready:
        say(f"worker: Kafka {ready.kafka_bootstrap}, metrics on :{ready.metrics_port}/metrics")
        from streams.worker.app import create_app
        from streams.worker.run import run_worker

        run_worker(create_app(ready), args.loglevel)
    return 0


def cmd_collect(args: argparse.Namespace, settings: Settings) -> int:
    port = args.port or settings.collect_port
    with pipeline_ready(settings, start_local=True) as ready:
        from streams.collect.run import run_collector

        say(f"collector: http://{args.host}:{port}/v1/events, Kafka {ready.kafka_bootstrap}")
        run_collector(ready, bootstrap=str(ready.kafka_bootstrap), host=args.host, port=port)
    return 0


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    with admin.bootstrap_for(settings.kafka_bootstrap, settings.data_dir,
                             KafkaSecurity.of(settings), start_local=False) as bootstrap:
        created = admin.create_topics(bootstrap, settings.partitions, KafkaSecurity.of(settings))
    print(f"created: {', '.join(created)}" if created else "all topics exist")
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    if args.print:
        print(render(database_of(settings.warehouse_url), settings.clickhouse_cluster), end="")
        return 0
    warehouse = connect(settings.warehouse_url)
    applied = migrate(warehouse, settings.clickhouse_cluster)
    print(f"{warehouse.description}: " + (f"applied {', '.join(applied)}" if applied
                                           else "schema up to date"))
    return 0


def cmd_produce(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.produce import produce_lines

    security = KafkaSecurity.of(settings)
    with admin.bootstrap_for(settings.kafka_bootstrap, settings.data_dir, security,
                             start_local=False) as bootstrap:
        if args.file == "-":
            report = produce_lines(bootstrap, security, sys.stdin.buffer, args.topic)
        else:
            with Path(args.file).open("rb") as lines:
                report = produce_lines(bootstrap, security, lines, args.topic)
    for problem in report.skipped[:20]:
        say(f"skipped {problem}")
    if len(report.skipped) > 20:
        say(f"... and {len(report.skipped) - 20} more unroutable lines")
    say(report.summary())
    return 1 if report.skipped else 0


async def paced(events: Iterator[dict], speed: float | None) -> AsyncIterator[tuple]:
    """Kafka records of ``events``, each released when its event time comes (``speed`` x
    real time), or at once."""
    from streams.kafka.produce import record_of
    from streams.tools.generate.pace import paced as paced_events

    async for event in paced_events(events, speed):
        yield record_of(event)


def cmd_generate(args: argparse.Namespace, settings: Settings) -> int:
    import orjson

    from streams.kafka.produce import Report, send_stream
    from streams.tools.generate import TrafficSpec, generate

    live = not args.backfill
    start = args.start if args.start is not None else (
        time.time() if live else time.time() - args.duration)
    spec = TrafficSpec(seed=args.seed, start=start, duration=args.duration, rate=args.rate,
                       scenario=args.scenario, tenants=tuple(args.tenant or ("acme-shop",
                                                                             "nordwind")),
                       revised=args.revised)
    events = generate(spec)
    if args.output:
        with contextlib.ExitStack() as stack:
            out = sys.stdout.buffer if args.output == "-" else stack.enter_context(
                Path(args.output).open("wb"))
            count = 0
            for event in events:
                out.write(orjson.dumps(event) + b"\n")
                count += 1
        say(f"wrote {count} events")
        return 0
    with admin.bootstrap_for(settings.kafka_bootstrap, settings.data_dir,
                             KafkaSecurity.of(settings), start_local=False) as bootstrap:
        mode = "live" if live else "backfill"
        say(f"generating {args.scenario} traffic ({mode}): ~{args.rate:g} events/s for "
            f"{args.duration:g}s of event time to {bootstrap}")
        report = asyncio.run(send_stream(bootstrap, KafkaSecurity.of(settings),
                                         paced(events, 1.0 if live else None), Report()))
    say(report.summary())
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import demo

    with pipeline_ready(settings, start_local=True) as ready:
        return demo.run(ready, duration=args.duration, rate=args.rate, scenario=args.scenario,
                        history_seconds=args.history, via_collector=args.via_collector)


def cmd_scores(args: argparse.Namespace, settings: Settings) -> int:
    from streams.core.scores import parse_weights
    from streams.queries.windows import window_scores

    rows = window_scores(
        connect(settings.warehouse_url), end_ms=int(args.at * 1000),
        window_ms=int(args.window * 1000), deadline_ms=settings.followup_deadline_ms,
        tenant=args.tenant, channel=args.channel, touchpoint=args.touchpoint,
        weights=parse_weights(settings.health_weights))
    show(rows, as_json=args.json, table=scores_table,
         empty="no scores: nothing matches in that window")
    return 0


def cmd_top(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import top
    from streams.cli.live import Source, WarehouseSource, WorkerSource
    from streams.cli.screen import State
    from streams.core.scores import parse_weights

    if args.key and not args.worker:
        raise ValueError("--key goes with --worker URL; without it top reads ClickHouse directly")
    key = args.key or settings.api_key
    source: Source = (WorkerSource(args.worker, key=key) if args.worker else WarehouseSource(
        connect(settings.warehouse_url), settings.followup_deadline_ms,
        parse_weights(settings.health_weights)))
    return top.run(source, min_answers=settings.min_answers,
                   state=State(tenant=args.tenant, window=args.window),
                   interval=args.interval, once=args.once)


def cmd_cases(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.render import cases_table
    from streams.queries.cases import unmet_cases

    rows = unmet_cases(connect(settings.warehouse_url), now_ms=int(time.time() * 1000),
                       tenant=args.tenant, overdue_only=args.overdue)
    show(rows, as_json=args.json, table=cases_table,
         empty="no overdue cases" if args.overdue else "no open cases: every follow-up is met")
    return 0


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    from streams.queries.retention import apply_retention, expired

    days = args.days or settings.retention_days
    if days is None or days < 1:
        raise ConfigError("retention: give --days N (>= 1) or set CX_RETENTION_DAYS")
    warehouse = connect(settings.warehouse_url)
    act = expired if args.dry_run else apply_retention
    found = act(warehouse, days=days, now_s=int(time.time()))
    verb = "would drop" if args.dry_run else "dropped"
    for table, months in found.items():
        print(f"{verb} {table}: {', '.join(map(str, months))}")
    if not found:
        print(f"nothing older than {days} days to drop (whole months only)")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from streams.queries.verify import differences, expected_minutes

    warehouse = connect(settings.warehouse_url)
    found = differences(warehouse, settings.followup_deadline_ms)
    if not found:
        count = len(expected_minutes(warehouse, settings.followup_deadline_ms))
        print(f"verified {count} scope-minutes in {warehouse.description}, and their hourly "
              "and daily rollups: all equal")
        return 0
    for diff in found[:50]:
        fields = ", ".join(f"{name} stored {have} expected {want}"
                           for name, (have, want) in diff["fields"].items())
        minute = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(diff["minute"]))
        print(f"{diff['table']} {'/'.join(diff['scope'])} {minute}: {fields}")
    say(f"{len(found)} scope-minutes, hours or days differ from the recomputation")
    return 1


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.render import alerts_table
    from streams.queries.alerting import alert_rows, history

    if args.action == "backtest":
        return cmd_backtest(args, settings)
    rows = alert_rows(history(connect(settings.warehouse_url), since_s=int(args.since),
                              firing_only=args.firing))
    show(rows, as_json=args.json, table=alerts_table,
         empty="no alerts are firing" if args.firing else "no alert state changes in that time")
    return 0


def cmd_incidents(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli.render import incidents_table
    from streams.queries.incidents import listing

    rows = listing(connect(settings.warehouse_url), since_s=int(args.since),
                   open_only=args.open)
    show(rows, as_json=args.json, table=incidents_table,
         empty="no incident is open" if args.open else "no incidents in that time")
    return 0


def cmd_backtest(args: argparse.Namespace, settings: Settings) -> int:
    import orjson

    from streams.cli.render import alerts_table
    from streams.core.backtest import check_step, reach, replay, summarize
    from streams.queries.alerting import alert_rows, bucket_series

    if args.start is None or args.end is None:
        raise ValueError("alerts backtest needs --from TS and --to TS")
    config = settings.detector()
    step_ms = int(args.step * 1000)
    check_step(step_ms, config, settings.followup_deadline_ms)
    start_ms = int(args.start * 1000) // step_ms * step_ms
    end_ms = int(args.end * 1000) // step_ms * step_ms
    if end_ms <= start_ms:
        raise ValueError("--to must be at least one step after --from")
    reach_ms = reach(config, settings.followup_deadline_ms)
    say(f"backtest: reading score_minutes from {len(range(start_ms, end_ms + 1, step_ms))} "
        f"steps' reach ({(end_ms - start_ms + reach_ms) / 86_400_000:.1f} days)")
    series = bucket_series(connect(settings.warehouse_url), start_ms=start_ms - reach_ms,
                           end_ms=end_ms, step_ms=step_ms)
    shown = [0]

    def progress(done: int, total: int) -> None:
        if done * 10 // total > shown[0]:
            shown[0] = done * 10 // total
            say(f"backtest: {done}/{total} steps")

    changes = replay(series, start_ms=start_ms, end_ms=end_ms, config=config,
                     deadline_ms=settings.followup_deadline_ms, progress=progress)
    summary = summarize(changes, None if args.onset is None else int(args.onset))
    if args.json:
        print(orjson.dumps({"from": start_ms // 1000, "to": end_ms // 1000,
                            "step_seconds": step_ms // 1000, "changes": alert_rows(changes),
                            **summary.as_dict()}, option=orjson.OPT_INDENT_2).decode())
        return 0
    if changes:
        print(alerts_table(alert_rows(changes)))
    say(f"backtest: {summary.fired} firing, {summary.resolved} resolved"
        + (f"; by metric: {', '.join(f'{m} {n}' for m, n in summary.by_metric.items())}"
           if summary.by_metric else ""))
    for key, delay in summary.delays.items():
        say(f"  {'/'.join(key)} fired {delay / 60:.0f} min after the onset")
    return 0


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    if args.suite == "alerts":
        from streams.tools.bench import alerts

        return alerts.run(settings, quick=args.quick, output=args.json)
    if args.suite == "reads":
        from streams.tools.bench import reads

        return reads.run(settings, output=args.json)
    if args.suite == "comments":
        from streams.tools.bench import comments

        return comments.run(settings, output=args.json)
    if args.suite == "collect":
        from streams.tools.bench import collect

        return collect.run(settings, quick=args.quick, output=args.json)
    if args.suite == "soak":
        from streams.tools.bench import soak

        return soak.run(settings, duration=args.duration, fault_every=args.fault_every,
                        outage=args.outage, rate=args.rate, output=args.json)
    if args.quick:
        raise ValueError("--quick applies to 'bench alerts' and 'bench collect' only")
    from streams.tools import bench

    return bench.run(settings, events=args.events, output=args.json)


def cmd_comments(args: argparse.Namespace, settings: Settings) -> int:
    from streams.cli import comments

    if args.action == "classify":
        if len(args.source) != 1:
            raise ValueError("comments classify needs one JSON Lines FILE, or - for stdin")
        return comments.cmd_classify(args.source[0], args.json, settings)
    if args.action == "report":
        return comments.cmd_report(args.source, args.json, settings)
    if args.source:
        raise ValueError(f"comments: unexpected {args.source[0]!r}: the actions are classify "
                         "FILE|-, report [FILE...] and list (the default)")
    return comments.cmd_list(args, settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cxpulse", description="Real-time CX scores from Kafka into ClickHouse. "
        "Configured by CX_* environment variables (see README).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the main job on embedded defaults, with live output")
    demo.add_argument("--duration", type=parse_duration, default=None,
                      help="stop after this long (e.g. 60s); default: run until Ctrl-C")
    demo.add_argument("--rate", type=float, default=200.0, help="events per second")
    demo.add_argument("--scenario", default="incident", help="traffic scenario")
    demo.add_argument("--history", type=parse_duration, default=3600.0,
                      help="steady traffic backfilled first, the norm alerts compare with "
                      "(default 1h)")
    demo.add_argument("--via-collector", action="store_true",
                      help="send the live traffic over HTTP through a collector (cxpulse "
                      "collect, on CX_COLLECT_PORT) with a write key per tenant, as real "
                      "sources do; the history still goes straight to Kafka")
    demo.set_defaults(func=cmd_demo)

    worker = sub.add_parser("worker", help="run a Faust worker (any number share the partitions)")
    worker.add_argument("--loglevel", default="info",
                        choices=["crit", "error", "warn", "info", "debug"])
    worker.add_argument("--role", choices=WORKER_ROLES,
                        help="ingest (events, scores, alerts), enrich (the comment model) or "
                        "all (default: CX_WORKER_ROLE, else all); each scales on its own")
    worker.set_defaults(func=cmd_worker)

    collect = sub.add_parser("collect", help="the HTTP collector: events and signed webhooks "
                             "in, 200 only after Kafka acknowledged them")
    collect.add_argument("--port", type=int, default=None, help="default CX_COLLECT_PORT (8088)")
    collect.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    collect.set_defaults(func=cmd_collect)

    sub.add_parser("topics", help="create the topics (CX_PARTITIONS partitions)").set_defaults(
        func=cmd_topics)
    migrate_ = sub.add_parser("migrate", help="apply schemas/clickhouse idempotently "
                              "(on CX_CLICKHOUSE_CLUSTER if set)")
    migrate_.add_argument("--print", action="store_true",
                          help="print every statement for this configuration, run nothing")
    migrate_.set_defaults(func=cmd_migrate)

    produce = sub.add_parser("produce", help="send JSON Lines events, routed by 'type'")
    produce.add_argument("file", help="a JSON Lines file, or - for stdin")
    produce.add_argument("--topic", help="send every line verbatim to this topic (no routing)")
    produce.set_defaults(func=cmd_produce)

    generate = sub.add_parser("generate", help="realistic synthetic traffic")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--rate", type=float, default=100.0, help="mean events per second")
    generate.add_argument("--duration", type=parse_duration, default=60.0,
                          help="event time covered, e.g. 60s, 2h, 8d")
    generate.add_argument("--scenario", default="steady", help="traffic scenario: steady "
                          "(default), incident, blind-spot, nps-drop, failure-spike, degraded, "
                          "silent-channel or followup-backlog")
    generate.add_argument("--tenant", action="append", help="a tenant (repeatable)")
    generate.add_argument("--revised", type=float, default=0.05,
                          help="share of commented feedback sent as two revisions: the score, "
                          "then the answer with its comment as revision 1 (default 0.05)")
    generate.add_argument("--start", type=parse_time, default=None,
                          help="event time of the start (RFC 3339); default: now, or "
                          "--duration ago with --backfill. Same seed and start, same events")
    generate.add_argument("--backfill", action="store_true",
                          help="event times over the past --duration, sent at once "
                          "(default: live, paced in real time)")
    generate.add_argument("--output", help="write JSON Lines to this file (- for stdout) "
                          "instead of Kafka")
    generate.set_defaults(func=cmd_generate)

    scores = sub.add_parser("scores", help="scores from ClickHouse for a window")
    scores.add_argument("--window", type=parse_duration, default=3600.0, help="e.g. 1h, 24h, 7d")
    scores.add_argument("--at", type=parse_time, default="now",
                        help="window end (RFC 3339 or now), floored to the minute")
    scores.add_argument("--tenant")
    scores.add_argument("--channel")
    scores.add_argument("--touchpoint")
    scores.add_argument("--json", action="store_true", help="a JSON array (DESIGN.md keys)")
    scores.set_defaults(func=cmd_scores)

    top = sub.add_parser("top", help="live CX health per tenant and channel, full screen "
                         "(keys: t tenant, w window, q quit)")
    top.add_argument("--worker", metavar="URL", help="read a worker's HTTP API (e.g. "
                     "http://127.0.0.1:6066) instead of ClickHouse (CX_CLICKHOUSE_URL)")
    top.add_argument("--key", help="--worker: a read key (a tenant's) or an admin key (every "
                     "tenant); default CX_API_KEY, which keeps it out of the process list")
    top.add_argument("--tenant", help="the tenant shown first (default: the first by name)")
    top.add_argument("--window", choices=WINDOW_CHOICES, default=WINDOW_CHOICES[0],
                     help="the score window shown first (w cycles them)")
    top.add_argument("--interval", type=parse_duration, default=2.0,
                     help="seconds between refreshes (default 2s)")
    top.add_argument("--once", action="store_true",
                     help="print one snapshot and exit (the default when stdout is no terminal)")
    top.set_defaults(func=cmd_top)

    cases = sub.add_parser("cases", help="follow-up cases that need a call now, oldest first")
    cases.add_argument("--overdue", action="store_true", help="only those past their deadline")
    cases.add_argument("--tenant")
    cases.add_argument("--json", action="store_true", help="a JSON array")
    cases.set_defaults(func=cmd_cases)

    retention = sub.add_parser(
        "retention", help="drop raw events, facts and minutes older than CX_RETENTION_DAYS "
        "(whole months; hourly and daily rollups are kept)")
    retention.add_argument("--days", type=int, help="override CX_RETENTION_DAYS (>= 1)")
    retention.add_argument("--dry-run", action="store_true", help="list, drop nothing")
    retention.set_defaults(func=cmd_retention)

    sub.add_parser("verify", help="compare scores with a recomputation from raw events; "
                   "non-zero exit on any difference").set_defaults(func=cmd_verify)

    alerts = sub.add_parser(
        "alerts", help="alert state changes from ClickHouse; 'alerts backtest' replays the "
        "detector over stored minutes")
    alerts.add_argument("action", nargs="?", choices=["backtest"],
                        help="backtest: what would have fired between --from and --to")
    alerts.add_argument("--since", type=parse_time, default=0.0,
                        help="only changes at or after this time (RFC 3339 or now)")
    alerts.add_argument("--firing", action="store_true", help="only the alerts open now")
    alerts.add_argument("--json", action="store_true", help="a JSON array")
    alerts.add_argument("--from", dest="start", type=parse_time, help="backtest: first step")
    alerts.add_argument("--to", dest="end", type=parse_time, help="backtest: last step")
    alerts.add_argument("--step", type=parse_duration, default=300.0,
                        help="backtest: evaluation step (default 5m; divides the windows)")
    alerts.add_argument("--onset", type=parse_time,
                        help="backtest: when a known incident began, to report detection delay")
    alerts.set_defaults(func=cmd_alerts)

    incidents = sub.add_parser(
        "incidents", help="incidents from ClickHouse: alerts grouped by scope and time, with "
        "what explains them and what customers say")
    incidents.add_argument("--since", type=parse_time, default=0.0,
                           help="only incidents updated at or after this time (RFC 3339 or "
                           "now); open ones are always listed")
    incidents.add_argument("--open", action="store_true", help="only the incidents open now")
    incidents.add_argument("--json", action="store_true", help="a JSON array")
    incidents.set_defaults(func=cmd_incidents)

    comments = sub.add_parser(
        "comments", help="what customers write: recent comments with their insights (the "
        "default, 'list'); 'comments classify FILE|-' labels JSON Lines offline; 'comments "
        "report [FILE...]' measures the model on labelled sets: per language and class, "
        "with confusion matrices")
    comments.add_argument("action", nargs="?", choices=["list", "classify", "report"])
    comments.add_argument("source", nargs="*",
                          help="classify: JSON Lines with 'comment' and optional 'locale' "
                          "(- for stdin); report: labelled sets, measured together (default: "
                          "data/freshset.jsonl if present, else data/testset.jsonl)")
    comments.add_argument("--tenant", help="list: only this tenant")
    comments.add_argument("--channel", help="list: only this channel")
    comments.add_argument("--theme", help="list: only comments naming this theme (built-in or "
                          "CX_COMMENT_THEMES)")
    comments.add_argument("--sentiment", choices=["negative", "neutral", "positive"],
                          help="list: only comments with this sentiment label")
    comments.add_argument("--since", help="list: comments at or after this time (RFC 3339, "
                          "or a duration back from now such as 24h)")
    comments.add_argument("--limit", type=int, default=50, help="list: at most this many "
                          "(default 50), newest first")
    comments.add_argument("--json", action="store_true", help="JSON output")
    comments.set_defaults(func=cmd_comments)

    keys_cli.add_parser(sub)
    forget_cli.add_parser(sub)

    bench = sub.add_parser("bench", help="measure ingest throughput against the local broker; "
                           "'bench alerts' measures alert detection delay, false alarms and cost")
    bench.add_argument("suite", nargs="?", choices=["alerts", "reads", "comments", "collect",
                                                  "soak"],
                       help="alerts: detection delay per scenario and volume, false alarms per "
                       "tenant-week, one evaluation pass at 10k scopes (about 6 min); reads: "
                       "7-day windows and 90-day trends from the rollups vs the minutes over "
                       "a simulated year (about 3 min); comments: the comment model's speed, "
                       "latency and memory, alone and stored as the worker does (about 4 min); "
                       "collect: one collector process's events/s (single events, 100-event "
                       "batches) and latency at 50%% and 90%% load, acks on (about 2 min); "
                       "soak: 50%% load for --duration with a fault every --fault-every: "
                       "events lost, verify, RSS growth, p99 and log lines per fault")
    bench.add_argument("--events", type=int, default=200_000, help="ingest bench: events")
    bench.add_argument("--quick", action="store_true",
                       help="alerts: a smoke run (3 days, low volume only, 1k scopes); "
                       "collect: 2-second phases")
    bench.add_argument("--duration", type=parse_duration, default=1800.0,
                       help="soak: how long the load runs (default 30m)")
    bench.add_argument("--fault-every", type=parse_duration, default=300.0,
                       help="soak: seconds between faults (default 5m)")
    bench.add_argument("--outage", type=parse_duration, default=40.0,
                       help="soak: how long each fault lasts (default 40s)")
    bench.add_argument("--rate", type=float, default=None,
                       help="soak: events/s offered (default: 50%% of the measured capacity)")
    bench.add_argument("--json", help="also write the results to this JSON file")
    bench.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except USER_ERRORS as error:
        say(f"cxpulse {args.command}: error: {error}")
        return 2

