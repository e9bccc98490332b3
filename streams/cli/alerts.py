"""``cxpulse alerts`` (and ``alerts backtest``) and ``incidents``: alert state changes, a
replay of the detector over stored minutes, and the incidents alerts group into."""

from __future__ import annotations

import argparse

from streams.cli.render import show
from streams.config import Settings
from streams.console import say
from streams.core.units import parse_duration, parse_time
from streams.warehouse import connect


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


def add_parser(sub: argparse._SubParsersAction) -> None:
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
