"""Language guesses: the text decides when it is telling, else the locale, else ``und``."""

import pytest

from streams.comments.language import LanguageGuesser

GUESSER = LanguageGuesser()


@pytest.mark.parametrize(("text", "language"), [
    ("Le colis est arrivé avec trois jours de retard.", "fr"),
    ("Paketnya belum sampai padahal sudah seminggu.", "id"),
    ("الطلب وصل متأخر والعلبة مكسورة", "ar"),
    ("Das Paket kam beschädigt an und niemand antwortet.", "de"),
    ("O reembolso ainda não caiu na minha conta.", "pt"),
    ("El pedido llegó tarde y la caja estaba rota.", "es"),
    ("The parcel arrived late and the box was crushed.", "en"),
])
def test_telling_text_names_its_language(text: str, language: str) -> None:
    assert GUESSER.guess(text, None) == language
    assert GUESSER.guess(text, "ja-JP") == language  # a wrong locale does not win


def test_short_text_falls_back_to_the_locale_then_unknown() -> None:
    assert GUESSER.guess("ok", "pt-BR") == "pt"
    assert GUESSER.guess("ok", "id_ID") == "id"
    assert GUESSER.guess("ok", None) == "und"
    assert GUESSER.guess("ok", "ja-JP") == "und"  # not a configured language


def test_restricted_to_the_configured_languages() -> None:
    guesser = LanguageGuesser(("en", "de"))
    assert guesser.guess("Le colis est arrivé avec trois jours de retard.", "de") in {"en", "de"}
