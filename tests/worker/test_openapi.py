"""schemas/http/worker.yaml stays in step with the worker's read API: every route, its
parameters and statuses, and every error reason (read from the source)."""

from __future__ import annotations

import ast
import inspect
from importlib.resources import files

import yaml

import streams.core.reads as reads
import streams.web.answers as answers
import streams.worker.api as api
from streams.config import Settings
from streams.warehouse import LazyWarehouse

SPEC = yaml.safe_load(files("cxpulse_schemas").joinpath("http/worker.yaml").read_text())


def reasons_in(module: object) -> set[str]:
    """The literal reason of every ``answer(status, reason, ...)`` and ``Refused(...)``."""
    found = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):  # type: ignore[arg-type]
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("answer",
                                                                             "Refused")
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            found.add(node.args[1].value)
    return found


def test_routes_parameters_and_statuses_are_documented() -> None:
    assert set(SPEC["paths"]) == set(api.ROUTES)
    for path, statuses in api.ROUTES.items():
        assert {int(code) for code in SPEC["paths"][path]["get"]["responses"]} == set(statuses)
    parameters = SPEC["components"]["parameters"]
    endpoints = api.ReadApi(Settings(), LazyWarehouse("chdb:///nowhere"), {}).endpoints()
    assert set(endpoints) == {path for path in api.ROUTES if path.startswith("/v1/")}
    for path, (known, _) in endpoints.items():
        documented = [parameters[p["$ref"].rsplit("/", 1)[1]]["name"] if "$ref" in p
                      else p["name"] for p in SPEC["paths"][path]["get"]["parameters"]]
        assert sorted(documented) == sorted(known), path


def test_every_error_reason_is_documented() -> None:
    enum = set(SPEC["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
    found = reasons_in(api) | reasons_in(reads) | reasons_in(answers) | set(api._NAMES.values())
    assert {"unauthorized", "forbidden", "bad_parameter", "warehouse_unavailable"} <= found
    assert found <= enum, found - enum
    assert reads.OTHER_TENANT[0] in enum
