"""Personal data masking: real-world forms in seven languages, what must stay, hostile input."""
# ruff: noqa: RUF001 (Arabic-Indic digits and the fullwidth at sign are the point here)

from __future__ import annotations

import random
import time

import pytest

from streams.comments.pii import KINDS, mask, mask_bytes, masker, parse_kinds

# (comment, the personal data in it, its kind): the comment masked is exactly that
# stretch replaced by the kind's placeholder, counted once.
FOUND = [
    # en
    ("Please email me at jane.doe+shop@example.com about the refund",
     "jane.doe+shop@example.com", "email"),
    ("Call me on (555) 123-4567 after 5pm", "(555) 123-4567", "phone"),
    ("my number is +1 415-555-0132, thanks", "+1 415-555-0132", "phone"),
    ("or text 555.123.4567", "555.123.4567", "phone"),
    ("charged twice on card 4111 1111 1111 1111!", "4111 1111 1111 1111", "card"),
    ("Amex 3782 822463 10005 was declined", "3782 822463 10005", "card"),
    ("refund to GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32", "iban"),
    # fr
    ("Appelez-moi au 06 12 34 56 78 svp", "06 12 34 56 78", "phone"),
    ("mon portable : +33 (0)6 12 34 56 78.", "+33 (0)6 12 34 56 78", "phone"),
    ("ou le 06.12.34.56.78", "06.12.34.56.78", "phone"),
    ("mon mail : marie.dupont@orange.fr", "marie.dupont@orange.fr", "email"),
    ("remboursez sur FR76 3000 6000 0112 3456 7890 189 merci",
     "FR76 3000 6000 0112 3456 7890 189", "iban"),
    # id
    ("hubungi saya di 0812-3456-7890 ya kak", "0812-3456-7890", "phone"),
    ("WA +62 812 3456 7890", "+62 812 3456 7890", "phone"),
    ("nomor saya 081234567890", "081234567890", "phone"),
    ("email: budi_santoso@yahoo.co.id", "budi_santoso@yahoo.co.id", "email"),
    # ar (Arabic-Indic and Persian digits)
    ("رقمي ٠٥٠ ١٢٣ ٤٥٦٧ شكرا", "٠٥٠ ١٢٣ ٤٥٦٧", "phone"),
    ("اتصل على +٩٦٦ ٥٠ ١٢٣ ٤٥٦٧", "+٩٦٦ ٥٠ ١٢٣ ٤٥٦٧", "phone"),
    ("موبايل ۰۹۱۲ ۳۴۵ ۶۷۸۹", "۰۹۱۲ ۳۴۵ ۶۷۸۹", "phone"),
    ("الرقم +20 10 1234 5678", "+20 10 1234 5678", "phone"),
    ("تواصلوا معي على ahmed.ali@example.sa", "ahmed.ali@example.sa", "email"),
    ("آيبان SA03 8000 0000 6080 1016 7519 من فضلكم", "SA03 8000 0000 6080 1016 7519", "iban"),
    ("الحساب AE070331234567890123456", "AE070331234567890123456", "iban"),
    # es
    ("llámame al 612 34 56 78 por favor", "612 34 56 78", "phone"),
    ("mi móvil +34 612 345 678", "+34 612 345 678", "phone"),
    ("IBAN ES91 2100 0418 4502 0005 1332", "ES91 2100 0418 4502 0005 1332", "iban"),
    ("correo: josé.garcía@correo.es", "josé.garcía@correo.es", "email"),
    # de
    ("Rufen Sie mich unter 030 1234567 an", "030 1234567", "phone"),
    ("Tel. 0049 30 1234567", "0049 30 1234567", "phone"),
    ("IBAN: DE89 3704 0044 0532 0130 00.", "DE89 3704 0044 0532 0130 00", "iban"),
    ("iban de89370400440532013000", "de89370400440532013000", "iban"),
    ("Mastercard 5555-5555-5555-4444 abgebucht", "5555-5555-5555-4444", "card"),
    # pt
    ("ligue 912 345 678", "912 345 678", "phone"),
    ("meu celular (11) 91234-5678", "(11) 91234-5678", "phone"),
    ("NIB PT50 0002 0123 1234 5678 9015 4", "PT50 0002 0123 1234 5678 9015 4", "iban"),
    ("cartão 4012888888881881 recusado", "4012888888881881", "card"),
    # at signs and glue
    ("full-width a＠example.com too", "a＠example.com", "email"),
    ("(jane@example.co.uk)", "jane@example.co.uk", "email"),
]

UNCHANGED = [
    "order 12345 never arrived", "19,99 € for this?", "delivered 2026-11-23", "3 days late",
    "on 23/11/2026 at 10:15", "2026-11-23 10:15 it failed", "23.11.2026", "11/23/2026",
    "Rp 12.500.000 terlalu mahal", "12 500 000 € ?", "1 250 000 Rp", "price 1.299,00 €",
    "order 123-456-789", "order #0612345678", "commande n° 0612345678",
    "pesanan #081234567890", "Bestellnummer 12345678", "order number: 98765432",
    "timestamp 1732270530123", "between 2025 2026", "size 42, 2 x 3 pack", "v2.3.4",
    "I waited 45 minutes", "tracking 1Z999AA10123456784", "@acme_shop on twitter",
    "10/10 would buy again", "ISBN 978-3-16-148410-0", "version 10.0.19045.1234",
    "50% off 3 items", "SKU AB12345678CD", "ref 4111111111111112", "mail me @ home",
    "user@localhost", "user@ example.com", "طلب رقم 12345678", "+15 %", "+ 20 000 jobs",
    "ticket 555-123-4567", "the 12345678 order",
]


@pytest.mark.parametrize(("text", "found", "kind"), FOUND)
def test_personal_data_is_masked(text: str, found: str, kind: str) -> None:
    assert found in text
    assert mask(text) == (text.replace(found, f"[{kind}]"), {kind: 1})


@pytest.mark.parametrize("text", UNCHANGED)
def test_numbers_that_are_not_personal_data_stay(text: str) -> None:
    assert mask(text) == (text, {})


def test_every_kind_in_one_comment_each_counted() -> None:
    text = ("Call +33 6 12 34 56 78 or 0612345678, mail a.b@example.com or c@d.io; card "
            "4111111111111111, IBAN DE89 3704 0044 0532 0130 00.")
    masked, counts = mask(text)
    assert masked == ("Call [phone] or [phone], mail [email] or [email]; card [card], "
                      "IBAN [iban].")
    assert counts == {"phone": 2, "email": 2, "card": 1, "iban": 1}


def test_two_numbers_joined_by_a_space_are_two_phones() -> None:
    assert mask("call 0612345678 0698765432") == ("call [phone] [phone]", {"phone": 2})


def test_only_the_chosen_kinds_are_masked() -> None:
    text = "mail a@b.io, call 06 12 34 56 78, card 4111 1111 1111 1111"
    assert mask(text, frozenset({"email"})) == (
        "mail [email], call 06 12 34 56 78, card 4111 1111 1111 1111", {"email": 1})
    assert mask(text, ["phone", "card"])[1] == {"phone": 1, "card": 1}
    assert mask(text, ()) == (text, {})
    with pytest.raises(ValueError, match="ssn"):
        mask(text, {"email", "ssn"})


def test_text_without_digit_or_at_sign_is_returned_as_is() -> None:
    text = "Livraison lente, emballage abîmé — très déçu"
    masked, counts = mask(text)
    assert masked is text and counts == {}


def test_parse_kinds_and_masker() -> None:
    assert parse_kinds("Email, card") == {"email", "card"}
    assert parse_kinds(" off ") == parse_kinds("none") == parse_kinds("") == frozenset()
    with pytest.raises(ValueError, match="unknown kind ssn"):
        parse_kinds("email,ssn")
    assert masker(()) is None
    built = masker(frozenset({"card"}))
    assert built is not None
    assert built.text("a@b.io 4111111111111111") == ("a@b.io [card]", {"card": 1})
    assert built.payload(b"a@b.io") == (b"a@b.io", {})


def test_bytes_keep_invalid_utf8_byte_for_byte() -> None:
    payload = b'\xff\xfe{"comment": "call 06 12 34 56 78 \xc3", "x": "\xed\xa0\x80"}'
    assert mask_bytes(payload) == (
        b'\xff\xfe{"comment": "call [phone] \xc3", "x": "\xed\xa0\x80"}', {"phone": 1})


def test_bytes_json_escapes_cannot_hide_digits_or_at_signs() -> None:
    payload = (b'{"comment": "jane\\u0040example.com or \\u0030\\u0036 12 34 56 78, '
               b'say \\u0022hi\\u0022 \\\\u0040"}')
    masked, counts = mask_bytes(payload)
    assert counts == {"email": 1, "phone": 1}
    # quotes stay escaped and an escaped backslash is not an escape: still valid JSON
    assert masked == b'{"comment": "[email] or [phone], say \\u0022hi\\u0022 \\\\u0040"}'


def test_bytes_without_personal_data_are_the_same_object() -> None:
    payload = b'{"comment": "no \\u00e9 data 12345", "score": 11}'
    assert mask_bytes(payload)[0] is payload
    assert mask_bytes(b"") == (b"", {})


def test_bytes_never_raise() -> None:
    rnd = random.Random(9)
    alphabet = [b"\\u", b"\\u00", b"\\", b"@", b"0", b"6", b" ", b"-", b"+", b"(", b")", b".",
                b"FR76", b"\xff", b"\xc3", b"\xed\xa0\x80", b"a", b"\xd9\xa0", b'"', b"zz"]
    for _ in range(3000):
        payload = b"".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 60)))
        masked, counts = mask_bytes(payload)
        assert isinstance(masked, bytes) and all(count > 0 for count in counts.values())
        assert set(counts) <= set(KINDS)


HOSTILE = {
    "letters": "a" * (1 << 20),
    "at signs": "@" * (1 << 20),
    "local parts": ("a" * 63 + "@") * (1 << 14),
    "near emails": ("a" * 60 + " b@x.co ") * (1 << 14),
    "domain labels": "a@" + "b." * (1 << 19),
    "digits": "7" * (1 << 20),
    "spaced digits": "1 " * (1 << 19),
    "zero pairs": "00 " * (1 << 18),
    "card groups": "4111 " * (1 << 18),
    "iban starts": "FR11 " * (1 << 18),
    "dates": "2026-11-23 " * (1 << 16),
    "brackets": "(1-(2.3/4 5)" * (1 << 16),
    "arabic digits": "٠١٢٣٤٥٦٧٨٩ " * (1 << 16),
    "escapes": "\\u0040\\u0031" * (1 << 16),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_megabyte_is_bounded_work(name: str) -> None:
    """Catastrophic backtracking would take hours; linear work takes about a second of CPU
    (this process's CPU time: a busy machine slows the clock, not the work)."""
    text = HOSTILE[name]
    started = time.process_time()
    mask(text)
    mask_bytes(text.encode())
    assert time.process_time() - started < 12
