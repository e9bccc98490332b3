"""The worker's watch over Kafka and ClickHouse (``streams.dependencies.Watch``) as a service
of the app: probes, outage lines, ``cx_dependency_*`` metrics and the log filter that folds
the client libraries' repeated errors, for as long as the worker runs."""

from __future__ import annotations

import contextlib

from mode import Service

from streams.dependencies import Watch, folding


class Watching(Service):
    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self.watch = watch
        self._stack = contextlib.ExitStack()

    async def on_start(self) -> None:
        # Started with the app, before its clients: Faust's log handlers are set up by now,
        # and the filter is on them before the clients' first error.
        self._stack.enter_context(folding(self.watch))

    async def on_stop(self) -> None:
        self._stack.close()

    @Service.task
    async def _probe(self) -> None:
        await self.watch.run()
