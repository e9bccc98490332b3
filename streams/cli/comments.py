"""``cxpulse comments``: recent comments with their insights from ClickHouse (``list``, the
default); ``classify`` and ``report``: the model, without the pipeline.

Classify reads JSON Lines (``comment``, optional ``locale``) from a file or
stdin and streams one JSON object per line back, in batches, so a pipe of any
length works; a bad line is reported with its number and skipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from streams.cli.render import comments_table, show
from streams.comments.corpus import default_set, read_corpus
from streams.comments.labels import THEMES, Insight
from streams.comments.quality import detailed_report, format_detailed
from streams.config import Settings
from streams.console import say
from streams.core import reads

if TYPE_CHECKING:  # the model loads numpy: only the commands that classify wait for it
    from streams.comments.classify import Classifier

BATCH = 64


def parse_line(number: int, line: bytes) -> tuple[str, str | None]:
    """(comment, locale) of one input line, or ValueError naming the line and the field."""
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"line {number}: not JSON ({error})") from None
    if not isinstance(row, dict):
        raise ValueError(f"line {number}: expected a JSON object")
    comment, locale = row.get("comment"), row.get("locale")
    if not isinstance(comment, str):
        raise ValueError(f"line {number}: 'comment' must be a string")
    if locale is not None and not isinstance(locale, str):
        raise ValueError(f"line {number}: 'locale' must be a string or absent")
    return comment, locale


def insight_json(insight: Insight) -> dict[str, Any]:
    out = asdict(insight)
    out["themes"] = list(insight.themes)
    return out


def _batches(lines: Iterable[bytes]) -> Iterator[list[tuple[int, str, str | None]]]:
    batch: list[tuple[int, str, str | None]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            batch.append((number, *parse_line(number, line)))
        except ValueError as error:
            say(f"skipped {error}")
            batch.append((-number, "", None))  # a negative number marks a skipped line
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_stream(classifier: Classifier, lines: Iterable[bytes], out: IO[str],
                    as_json: bool) -> tuple[int, int]:
    """Classify every line; returns (classified, skipped)."""
    done = skipped = 0
    started = time.monotonic()
    for batch in _batches(lines):
        good = [(number, text, locale) for number, text, locale in batch if number > 0]
        skipped += len(batch) - len(good)
        insights = classifier.classify([(text, locale) for _, text, locale in good])
        for (_, text, _locale), insight in zip(good, insights, strict=True):
            if as_json:
                out.write(orjson.dumps({"comment": text, **insight_json(insight)}).decode()
                          + "\n")
            else:
                themes = ",".join(insight.themes) or "-"
                out.write(f"{insight.language:<4}{insight.label:<9}{insight.sentiment:>+6.2f}  "
                          f"{insight.emotion:<15}{themes:<28}{' '.join(text.split())[:60]}\n")
        done += len(good)
        if done and done % (BATCH * 16) == 0:
            say(f"classified {done} comments ({done / (time.monotonic() - started):.0f}/s)")
    return done, skipped


def classifier_for(settings: Settings) -> Classifier:
    """The worker's classifier; its module (numpy, the model) loads only when one is needed."""
    from streams.comments.classify import Classifier

    return Classifier.from_settings(settings)


def cmd_classify(source: str, as_json: bool, settings: Settings) -> int:
    classifier = classifier_for(settings)
    if source == "-":
        done, skipped = classify_stream(classifier, sys.stdin.buffer, sys.stdout, as_json)
    else:
        with Path(source).open("rb") as lines:
            done, skipped = classify_stream(classifier, lines, sys.stdout, as_json)
    if skipped:
        say(f"{skipped} line(s) skipped, {done} classified")
        return 1
    return 0


def cmd_report(sources: Sequence[str], as_json: bool, settings: Settings) -> int:
    """The model on labelled sets: the named files together, or the default set."""
    paths = [Path(source) for source in sources] or [default_set()]
    items, sets = [], []
    for path in paths:
        if not path.is_file():
            raise ValueError(f"comments report: no such labelled set: {path}")
        read = read_corpus(path)
        if not read:
            raise ValueError(f"comments report: {path} holds no labelled comments")
        items += read
        sets.append({"file": str(path), "n": len(read)})
    say(f"classifying {len(items)} labelled comments ...")
    insights = classifier_for(settings).classify([(item.comment, item.locale) for item in items])
    data = {"sets": sets, **detailed_report(items, insights)}
    if as_json:
        print(orjson.dumps(data).decode())
    else:
        print("set: " + " + ".join(f"{s['file']} ({s['n']} comments)" for s in sets) + "\n")
        print(format_detailed(data))
    return 0


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from streams.queries.comments import recent_comments
    from streams.warehouse import connect

    known = (*THEMES, *settings.comment_themes)
    if args.theme is not None and args.theme not in known:
        raise ValueError(f"unknown theme {args.theme!r} (known: {', '.join(known)})")
    if args.limit < 1:
        raise ValueError(f"--limit must be at least 1, got {args.limit}")
    since = None if args.since is None else reads.since(args.since, "--since")
    rows = recent_comments(connect(settings.warehouse_url), tenant=args.tenant,
                           channel=args.channel, theme=args.theme, sentiment=args.sentiment,
                           since_s=since, limit=args.limit)
    show(rows, as_json=args.json, table=comments_table,
         empty="no comments match (comments appear once the worker has enriched them)")
    return 0


def cmd_comments(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "classify":
        if len(args.source) != 1:
            raise ValueError("comments classify needs one JSON Lines FILE, or - for stdin")
        return cmd_classify(args.source[0], args.json, settings)
    if args.action == "report":
        return cmd_report(args.source, args.json, settings)
    if args.source:
        raise ValueError(f"comments: unexpected {args.source[0]!r}: the actions are classify "
                         "FILE|-, report [FILE...] and list (the default)")
    return cmd_list(args, settings)


def add_parser(sub: argparse._SubParsersAction) -> None:
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

