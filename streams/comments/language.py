"""Which configured language a comment is in: py3langid restricted to those languages.

Short comments ("ok", "top 👍") carry too little text for a character-n-gram
model, so a confident guess wins and otherwise the event's ``locale`` decides.
A model restricted to the configured languages always names one of them, even
for Italian or Turkish (about 0.5 for Spanish or German; French among English
and German is 0.99 English), so the unrestricted model is asked too: a text it
confidently places outside the configured languages is ``und``, whatever the
locale says (the heads were not trained on it; ``classify`` says what its
sentiment then is). Close kin that informal writing is taken for (Malay,
Javanese, Sundanese for Indonesian; Galician for Portuguese) count as their kin.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cached_property
from typing import Final

from streams.comments.labels import LANGUAGES, UNKNOWN_LANGUAGE

CONFIDENT: Final = 0.5
"""Normalised probability above which the text, not the locale, names the language."""
FOREIGN: Final = 0.7
"""The unrestricted model's probability for an unconfigured language that makes a text
``und``: at 0.7 no comment of the training set loses its language (two Indonesian
ones would without ``KIN``)."""
KIN: Final = {"ms": "id", "jv": "id", "su": "id", "gl": "pt"}


class LanguageGuesser:
    """py3langid over ``languages`` only (and over all it knows, to tell foreign text);
    loaded on first use or by ``warm`` (about 0.4 s of CPU: the model file is read once)."""

    def __init__(self, languages: Sequence[str] = LANGUAGES) -> None:
        self.languages = tuple(languages)

    @cached_property
    def _unrestricted(self):  # type: ignore[no-untyped-def]
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)

    @cached_property
    def _identifier(self):  # type: ignore[no-untyped-def]
        # The same model restricted: a copy (``set_languages`` replaces its arrays, never
        # changes them), not a second read and decompression of the model file.
        identifier = copy.copy(self._unrestricted)
        identifier.set_languages(list(self.languages))
        return identifier

    def warm(self) -> None:
        """Load the model now, so the first batch does not pay for it."""
        _ = self._identifier

    def foreign(self, text: str) -> bool:
        """Whether ``text`` is confidently in a language outside the configured ones."""
        language, confidence = self._unrestricted.classify(text)
        language = KIN.get(language, language)
        return language not in self.languages and confidence >= FOREIGN

    def guess(self, text: str, locale: str | None = None) -> str:
        """The language of ``text``; the locale's when the text is not telling; else ``und``."""
        language, confidence = self._identifier.classify(text)
        if self.foreign(text):
            return UNKNOWN_LANGUAGE
        if confidence >= CONFIDENT:
            return str(language)
        return self.of_locale(locale)

    def of_locale(self, locale: str | None) -> str:
        """The locale's language if it is a configured one, else ``und``."""
        hinted = (locale or "").replace("_", "-").split("-")[0].lower()
        return hinted if hinted in self.languages else UNKNOWN_LANGUAGE
