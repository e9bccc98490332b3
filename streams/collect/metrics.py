"""The collector's Prometheus metrics, in a registry of its own (one per app, so tests and
an embedding process can run several collectors without clashing names)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.dependencies import dependency_metrics

ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class CollectorMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cx_collect_requests", "HTTP requests by route, tenant ('-' "
                                "before a key is known) and status", ["route", "tenant", "status"],
                                registry=r)
        self.events = Counter("cx_collect_events", "Events answered, by tenant and outcome "
                              "(accepted: acknowledged by Kafka; rejected: dead-lettered)",
                              ["tenant", "outcome"], registry=r)
        self.rejected = Counter("cx_collect_rejected", "Rejected events by reason",
                                ["reason"], registry=r)
        self.bytes_in = Counter("cx_collect_bytes_in", "Request body bytes received (as sent, "
                                "before gunzip)", registry=r)
        self.ack_seconds = Histogram("cx_collect_ack_seconds", "Kafka acknowledgement latency "
                                     "of one request's records", buckets=ACK_BUCKETS, registry=r)
        self.in_flight = Gauge("cx_collect_in_flight", "Requests being handled", registry=r)
        self.keys = Gauge("cx_collect_keys", "Keys in the ring (revoked ones included)",
                          registry=r)
        self.key_refresh_errors = Counter("cx_collect_key_refresh_errors", "Failed reads of "
                                          "cx.api_keys (the last good keys stay in force)",
                                          registry=r)
        self.deadletter_rows = Counter("cx_collect_deadletter_rows", "cx.deadletters rows by "
                                       "result (written; dropped when the backlog was full, "
                                       "the cx.deadletter message kept)", ["result"], registry=r)
        self.deadletter_backlog = Gauge("cx_collect_deadletter_backlog", "Dead-letter rows "
                                        "waiting for ClickHouse", registry=r)
        self.pii_masked = Counter("cx_collect_pii_masked", "Personal data masked in dead "
                                  "letters, by kind", ["kind"], registry=r)
        self.record_dependency = dependency_metrics(r)
        """One probe of a dependency (``streams.dependencies.Watch``)."""
