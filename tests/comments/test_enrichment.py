"""``Enricher``: validate, mask and classify a batch of feedback messages, in-process."""

from __future__ import annotations

import time

import orjson

from streams.comments.classify import Classifier
from streams.comments.enrichment import Enricher
from streams.comments.pii import masker
from streams.core.contract import Validator
from tests.support.events import PERSONAL, feedback_event, hostile


def test_enricher_masks_first_and_skips_what_the_ingest_dead_letters() -> None:
    enricher = Enricher(Validator(max_event_bytes=65536, max_age_seconds=86400),
                        Classifier(), masker())
    payloads = [value for _, _, value, _ in hostile(time.time())] + [
        None, b"", feedback_event("blank", "   "), feedback_event("none", None),
        feedback_event("pii", f"{PERSONAL} Terrible!", locale="en-GB"),
        feedback_event("fr", "Colis jamais arrivé, remboursez-moi !", locale="fr-FR"),
        feedback_event("fr-again", "Colis  jamais arrivé, remboursez-moi !", locale="fr-FR"),
    ]
    enrichment = enricher.enrich(payloads, time.time())
    by_id = {e.event_id: e for e in enrichment.enriched}
    assert sorted(by_id) == ["fr", "fr-again", "pii"]
    assert "jane.doe" not in by_id["pii"].comment and "[phone]" in by_id["pii"].comment
    assert by_id["pii"].scope == ("acme-shop", "chat", "support")
    assert by_id["pii"].locale == "en-GB"
    assert by_id["pii"].insight.label == "negative"
    assert by_id["fr"].insight.language == "fr" and "delivery" in by_id["fr"].insight.themes
    assert enrichment.encoded == 2  # the same text twice (spacing aside) is encoded once
    assert enricher.enrich([feedback_event("x", "ok")] * 3, time.time()).encoded == 1


def test_a_later_revision_without_a_comment_withdraws_the_older_one() -> None:
    enricher = Enricher(Validator(max_event_bytes=65536, max_age_seconds=86400),
                        Classifier(), None)
    def without_comment(event_id: str, **extra: object) -> bytes:
        event = orjson.loads(feedback_event(event_id, "", **extra))
        del event["comment"]
        return orjson.dumps(event)

    enrichment = enricher.enrich([
        without_comment("r0"), without_comment("r1", revision=1),
        feedback_event("r2", "  ", revision=2), feedback_event("r3", "late", revision=3)],
        time.time())
    by_id = {e.event_id: e for e in enrichment.enriched}
    assert sorted(by_id) == ["r1", "r2", "r3"]  # revision 0 has nothing older to withdraw
    assert [(by_id[k].insight, by_id[k].comment, by_id[k].revision) for k in ("r1", "r2")] == [
        (None, "", 1), (None, "", 2)]
    assert by_id["r3"].insight is not None and by_id["r3"].revision == 3
