"""schemas/http/collector.yaml stays in step with the collector: every route, every status,
every error reason (read from the source, so a new answer cannot go undocumented)."""

from __future__ import annotations

import ast
import inspect
from importlib.resources import files

import yaml

import streams.collect.app as collect_app
import streams.core.intake as intake
from streams.collect.app import ROUTES, create_collector
from streams.config import Settings
from streams.core.contract import REASONS
from streams.hooks.errors import REASONS as HOOK_REASONS

SPEC = yaml.safe_load(files("cxpulse_schemas").joinpath("http/collector.yaml").read_text())


def documented() -> dict[tuple[str, str], set[int]]:
    return {(method.upper(), path): {int(status) for status in operation["responses"]}
            for path, item in SPEC["paths"].items() for method, operation in item.items()}


def calls(module: object, name: str) -> list[tuple[int, str]]:
    """(status, reason) of every ``name(status, reason, ...)`` call with literal arguments."""
    found = []
    for node in ast.walk(ast.parse(inspect.getsource(module))):  # type: ignore[arg-type]
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == name
                and len(node.args) >= 2 and isinstance(node.args[0], ast.Constant)):
            found.append((node.args[0].value, node.args[1].value))
    return found


def test_every_route_of_the_app_is_documented_and_nothing_else() -> None:
    app = create_collector(Settings(), bootstrap="127.0.0.1:9", warehouse_url="chdb:///x")
    served = {(route.method, route.resource.canonical) for route in app.router.routes()
              if route.method != "HEAD" and route.resource is not None}
    assert served == set(ROUTES) == set(documented())


def test_statuses_documented_per_route() -> None:
    assert {route: set(statuses) for route, statuses in ROUTES.items()} == documented()


def test_every_answer_in_the_source_is_documented() -> None:
    answers = calls(collect_app, "answer") + calls(intake, "IntakeError")
    assert len(answers) > 15
    events = documented()["POST", "/v1/events"]
    hooks = documented()["POST", "/v1/hooks/{source}"]
    reasons = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    for status, reason in answers:
        assert status in events | hooks | {503}, (status, reason)
        assert reason in reasons, reason
    assert set(HOOK_REASONS) <= reasons
    item_reasons = SPEC["components"]["schemas"]["Answer"]["properties"]["rejected"]["items"]
    assert tuple(item_reasons["properties"]["reason"]["enum"]) == REASONS
