"""Which configured language a comment is in: py3langid restricted to those languages.

Short comments ("ok", "top 👍") carry too little text for a character-n-gram
model, so a confident guess wins and otherwise the event's ``locale`` decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Final

from streams.comments.labels import LANGUAGES, UNKNOWN_LANGUAGE

CONFIDENT: Final = 0.5
"""Normalised probability above which the text, not the locale, names the language."""


class LanguageGuesser:
    """py3langid over ``languages`` only; loaded on first use (about 1.5 s)."""

    def __init__(self, languages: Sequence[str] = LANGUAGES) -> None:
        self.languages = tuple(languages)

    @cached_property
    def _identifier(self):  # type: ignore[no-untyped-def]
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        identifier.set_languages(list(self.languages))
        return identifier

    def guess(self, text: str, locale: str | None = None) -> str:
        """The language of ``text``; the locale's when the text is not telling; else ``und``."""
        hinted = (locale or "").replace("_", "-").split("-")[0].lower()
        language, confidence = self._identifier.classify(text)
        if confidence >= CONFIDENT:
            return str(language)
        if hinted in self.languages:
            return hinted
        return UNKNOWN_LANGUAGE
