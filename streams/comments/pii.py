"""Mask personal data in free text before anything stores it: pure, no I/O.

Four kinds, each replaced by a placeholder (``[email]``, ``[phone]``, ``[card]``,
``[iban]``) and counted, so masking is never silent:

- **email**: ``local@domain.tld`` (Unicode letters allowed, local part up to 64
  characters, a dotted domain ending in a 2-24 letter label; the at sign may be the fullwidth one).
- **iban**: two letters, two check digits and 11-30 letters or digits (spaces or
  dashes between them), 15-34 characters in all, valid by ISO 7064 mod 97-10.
- **card**: 13-19 digits passing the Luhn check, written unbroken (then starting
  with 2-6, the banking industries, so epoch-millisecond timestamps and long ids
  starting with 1 are not taken for cards) or in groups separated by single
  spaces or dashes, the first of 4 digits and the others of 3-6.
- **phone**: 8-15 digits (E.164 has at most 15) in one run of digit groups joined
  by a space, ``-``, ``.``, ``/`` or parentheses, that either
  starts with ``+``/``00`` (international), with an area code in parentheses
  (``(555) 123-4567``), or with a national trunk ``0`` (``06 12 34 56 78``,
  ``0812-3456-7890``), or is 3 or more groups of 2-4 digits (``555-123-4567``,
  ``612 34 56 78``). Not a phone: a date (``2026-11-23``, ``23/11/2026``, in any
  three groups of the run), thousands (``12.500.000``; ``12 500 000`` next to a
  currency), a number right after an id word (``order``, ``commande``,
  ``pesanan``, ``pedido``, ``Bestellung``, ``invoice``, ``#``, ``طلب``...), an
  unbroken run without ``+`` or trunk ``0`` (``order 12345678``), or a run glued
  to letters. Prices (``19,99 €``), times and short numbers never have 8 digits
  in one run.

Digits are any Unicode decimal digits (Arabic-Indic and Persian ones included).
Obfuscated forms ("john at example dot com"), CVV codes and postal addresses are
not detected.

The work is linear in the text: every pattern has bounded repetition and no two
quantifiers can share characters, candidates are checked in Python only where a
run of digits or an ``@`` is, and text with neither returns at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Collection
from functools import partial
from itertools import accumulate, pairwise
from typing import Final

from streams.core.ingest import Masker

KINDS: Final = ("email", "phone", "card", "iban")
PLACEHOLDER: Final = {kind: f"[{kind}]" for kind in KINDS}
OFF: Final = ("off", "none", "")
"""Values of ``parse_kinds`` that turn masking off."""

_ALL: Final = frozenset(KINDS)
_HINT: Final = re.compile(r"[@\uff20\d]")
"""Every kind holds a digit or an at sign: text without one has nothing to mask."""

_DOMAIN: Final = re.compile(
    r"[@\uff20]([^\W_][\w-]{0,62}(?:\.[^\W_][\w-]{0,62}){0,8}\.[^\W\d_]{2,24})(?![\w-])")
_LOCAL: Final = re.compile(r"[\w.%+'-]{1,64}\Z")

_IBAN: Final = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[0-9]{2}(?:[ \u00a0-]?[A-Za-z0-9]){11,30}")
_IBAN_DIGITS: Final = {ord(c): str(10 + i) for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}

_SPACE: Final = " \u00a0\u202f"
_RUN: Final = re.compile(
    r"(?<![\w+])(\+|\(\+?)?\d+(?:[ \u00a0\u202f]?[-./()][ \u00a0\u202f]?\d+|[ \u00a0\u202f]\d+)*")
_GROUP: Final = re.compile(r"\d+")
_CURRENCY: Final = re.compile(
    r"[€$£¥₹₺₽₩₫฿]|(?<!\w)(?:rp|idr|eur|usd|gbp|sar|aed|egp|mad|brl|mxn|chf|euros?|dollars?|"
    r"reais|real|pesos?|rupiah|riyals?|dirhams?|ريال|درهم|جنيه)(?!\w)", re.IGNORECASE)
_ID_BEFORE: Final = re.compile(
    r"(?:(?<!\w)(?:orders?|commande|pesanan|pedido|encomenda|bestellung|bestellnummer|auftrag|"
    r"invoice|facture|factura|fatura|rechnung|tracking|suivi|resi|ref|reference|référence|"
    r"referencia|referência|ticket|sku|awb)(?:\s*(?:number|num|no|nr|n[°º]|nomor|n[úu]mero|"
    r"num[ée]ro|nummer|id))?|#|№|طلب|الطلب)[\s:.#°º-]*\Z", re.IGNORECASE)


def parse_kinds(text: str) -> frozenset[str]:
    """``"email, phone"`` -> those kinds; ``off``, ``none`` or empty -> none."""
    if text.strip().lower() in OFF:
        return frozenset()
    chosen = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = sorted(chosen - _ALL)
    if unknown:
        raise ValueError(f"unknown kind {', '.join(unknown)} (known: {', '.join(KINDS)}; "
                         f"{OFF[0]!r} for none)")
    return chosen


def _kinds(kinds: Collection[str]) -> frozenset[str]:
    chosen = kinds if isinstance(kinds, frozenset) else frozenset(kinds)
    if not chosen <= _ALL:
        raise ValueError(f"unknown kind {', '.join(sorted(chosen - _ALL))}")
    return chosen


Span = tuple[int, int, str]
"""(start, end, kind) of one masked stretch of text."""


def _replace(text: str, spans: list[Span], counts: Counter[str]) -> str:
    if not spans:
        return text
    parts, last = [], 0
    for start, end, kind in spans:
        parts += (text[last:start], PLACEHOLDER[kind])
        last = end
        counts[kind] += 1
    parts.append(text[last:])
    return "".join(parts)


def _emails(text: str) -> list[Span]:
    spans: list[Span] = []
    last = 0
    for match in _DOMAIN.finditer(text):
        at = match.start()
        local = _LOCAL.search(text, max(last, at - 64), at)
        if local is not None:
            spans.append((local.start(), match.end(), "email"))
            last = match.end()
    return spans


def _ibans(text: str) -> list[Span]:
    """Each candidate ends where a word does; the longest one valid by mod 97 wins."""
    spans: list[Span] = []
    position, size = 0, len(text)
    while (match := _IBAN.search(text, position)) is not None:
        start = match.start()
        tokens = match.group().replace("-", " ").replace("\u00a0", " ").split(" ")
        compact = "".join(tokens).upper()
        head = compact[:4].translate(_IBAN_DIGITS)
        chars, end, found = len(compact), match.end(), None
        for token in reversed(tokens):
            if chars < 15:
                break
            if (end == size or not text[end].isalnum()) and \
                    int(compact[4:chars].translate(_IBAN_DIGITS) + head) % 97 == 1:
                found = end
                break
            chars -= len(token)
            end -= len(token) + 1
        if found is None:
            position = start + 1
        else:
            spans.append((start, found, "iban"))
            position = found
    return spans


def _ascii(digits: str) -> str:
    return digits if digits.isascii() else "".join(str(unicodedata.digit(c)) for c in digits)


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class _Run:
    """One run of digit groups and the separators between them, read by the card and
    phone rules. Each start looks at most 19 digits ahead and stops early where a rule
    cannot hold any more, so a run costs a bounded amount per group."""

    __slots__ = ("date_at", "digits", "groups", "lead", "offsets", "seps", "sizes", "start",
                 "text")

    def __init__(self, text: str, match: re.Match[str]) -> None:
        self.text = text
        self.lead = match.group(1) or ""
        self.start = match.start()
        self.groups = [g.span() for g in _GROUP.finditer(text, self.start, match.end())]
        self.sizes = [b - a for a, b in self.groups]
        self.seps = [text[a[1]:b[0]].strip(_SPACE) for a, b in pairwise(self.groups)]
        self.digits = _ascii("".join(text[a:b] for a, b in self.groups))
        self.offsets = [0, *accumulate(self.sizes)]
        self.date_at: dict[int, bool] = {}

    def _date(self, k: int) -> bool:
        """Groups k..k+2 read as a date: 2026-11-23, 23/11/2026, 23.11.2026 (memoised)."""
        if k not in self.date_at:
            self.date_at[k] = self._read_date(k)
        return self.date_at[k]

    def _read_date(self, k: int) -> bool:
        if k + 2 >= len(self.groups) or self.seps[k] != self.seps[k + 1] or \
                self.seps[k] not in ("-", "/", "."):
            return False
        a, b, c = self.sizes[k:k + 3]
        return (a == 4 and b <= 2 and c <= 2) or (a <= 2 and b <= 2 and c == 4)

    def _number(self, i: int, j: int) -> str:
        return self.digits[self.offsets[i]:self.offsets[j + 1]]

    def _glued(self, j: int) -> bool:
        end = self.groups[j][1]
        return end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_")

    def _thousands(self, i: int, j: int) -> bool:
        """``12.500.000`` always; ``12 500 000`` only beside a currency."""
        seps = set(self.text[self.groups[k][1]:self.groups[k + 1][0]] for k in range(i, j))
        if len(seps) != 1 or (sep := seps.pop()) not in (".", *_SPACE):
            return False
        if not 1 <= self.sizes[i] <= 3 or any(size != 3 for size in self.sizes[i + 1:j + 1]):
            return False
        if sep == ".":
            return True
        start, end = self.groups[i][0], self.groups[j][1]
        near = self.text[max(0, start - 10):start] + " " + self.text[end:end + 12]
        return _CURRENCY.search(near) is not None

    def _card(self, i: int) -> int | None:
        """The last group of the longest card starting at group i, if any."""
        if i == 0 and self.lead:
            return None
        size = self.sizes[i]
        ends = []
        if 13 <= size <= 19 and self.digits[self.offsets[i]] in "23456":
            ends.append(i)
        elif size == 4:
            total = size
            for j in range(i + 1, len(self.groups)):
                if self.seps[j - 1] not in ("", "-") or not 3 <= self.sizes[j] <= 6:
                    break
                total += self.sizes[j]
                if total > 19:
                    break
                if total >= 13:
                    ends.append(j)
        for j in reversed(ends):
            if not self._glued(j) and _luhn(self._number(i, j)):
                return j
        return None

    def _phone(self, i: int) -> int | None:
        """The last group of the longest phone number starting at group i, if any."""
        lead = self.lead if i == 0 else ""
        first = self.digits[self.offsets[i]:self.offsets[i] + 3]
        international = "+" in lead or (first.startswith("00") and first[2:] != "0")
        area = lead == "(" and len(self.groups) > 1 and \
            self.text[self.groups[0][1]:self.groups[1][0]].lstrip(_SPACE).startswith(")")
        national = first.startswith("0") and self.sizes[i] >= 2
        grouped = not (international or area or national)
        if grouped and not 2 <= self.sizes[i] <= 4:
            return None
        ends, total = [], 0
        for j in range(i, len(self.groups)):
            if (grouped and not 2 <= self.sizes[j] <= 4) or (j - 2 >= i and self._date(j - 2)):
                break
            total += self.sizes[j]
            if total > 15:
                break
            if total >= 8 and (not grouped or j - i >= 2):
                ends.append(j)
        if not ends:
            return None
        if not (international or area) and i == 0 and \
                _ID_BEFORE.search(self.text, max(0, self.start - 40), self.start):
            return None
        for j in reversed(ends):
            if not self._glued(j) and (international or area or not self._thousands(i, j)):
                return j
        return None

    def spans(self, kinds: frozenset[str]) -> list[Span]:
        """Left to right: at each start, the longest card, else the longest phone number.

        A number starts at the run's start or after a plain space, never after a
        ``-`` or ``.``, so no number is cut out of the middle of another.
        """
        found: list[Span] = []
        card, phone = "card" in kinds, "phone" in kinds
        i = 0
        while i < len(self.groups):
            j, kind = None, ""
            if i == 0 or self.seps[i - 1] == "":
                if card:
                    j, kind = self._card(i), "card"
                if j is None and phone:
                    j, kind = self._phone(i), "phone"
            if j is None:
                i += 1
                continue
            start = self.groups[i][0] - (len(self.lead) if i == 0 else 0)
            found.append((start, self.groups[j][1], kind))
            i = j + 1
        return found


def _numbers(text: str, kinds: frozenset[str]) -> list[Span]:
    spans: list[Span] = []
    for match in _RUN.finditer(text):
        if match.end() - match.start() >= 8:
            spans += _Run(text, match).spans(kinds)
    return spans


def mask(text: str, kinds: Collection[str] = KINDS) -> tuple[str, dict[str, int]]:
    """``text`` with each e-mail, phone, card and IBAN of ``kinds`` replaced by its
    placeholder, and how many of each kind were found (only kinds found)."""
    if not kinds or not _HINT.search(text):
        return text, {}
    chosen = _kinds(kinds)
    counts: Counter[str] = Counter()
    if "email" in chosen and ("@" in text or "\uff20" in text):
        text = _replace(text, _emails(text), counts)
    if "iban" in chosen:
        text = _replace(text, _ibans(text), counts)
    if chosen & {"card", "phone"}:
        text = _replace(text, _numbers(text, chosen), counts)
    return text, dict(counts)


_ESCAPE: Final = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|.)", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    """A JSON ``\\uXXXX`` escape as its character, unless that could change the JSON
    (quote, backslash, control characters, surrogates)."""
    code = match.group(1)
    if code is None:
        return match.group()
    char = chr(int(code, 16))
    if char in '"\\' or ord(char) < 0x20 or 0xD800 <= ord(char) < 0xE000:
        return match.group()
    return char


def mask_bytes(payload: bytes, kinds: Collection[str] = KINDS) -> tuple[bytes, dict[str, int]]:
    """``mask`` for raw bytes that failed validation: any bytes, never raises.

    Invalid UTF-8 is kept byte for byte (surrogate escapes); JSON ``\\uXXXX``
    escapes are read first, so ``john\\u0040example.com`` is masked too. Bytes
    with nothing to mask are returned as they are.
    """
    if not kinds or not payload:
        return payload, {}
    text = payload.decode("utf-8", "surrogateescape")
    if "\\u" in text:
        text = _ESCAPE.sub(_unescape, text)
    masked, counts = mask(text, kinds)
    if not counts:
        return payload, {}
    return masked.encode("utf-8", "surrogateescape"), counts


def masker(kinds: Collection[str] = KINDS) -> Masker | None:
    """The ingest's masker for these kinds (None: masking off)."""
    chosen = _kinds(kinds)
    if not chosen:
        return None
    return Masker(partial(mask, kinds=chosen), partial(mask_bytes, kinds=chosen))
