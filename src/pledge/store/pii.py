"""S2 detector: find personal data in values written to fields not declared as personal data.

Promise S2 is "we store no personal information unless the app's documentation says so". A field
the app declares as personal data is stored (encrypted) as such; every other field is scanned here,
and a value with a finding is refused. A refusal costs an app developer one rename or one
declaration; a miss puts personal data where the statement says there is none. Even so, a guard
that cries wolf gets switched off, so every rule below prefers precision: it fires on shapes that
are hard to produce by accident and leaves ambiguous ones alone.

Kinds and rules (all matching is on ASCII; every rule needs a digit or an ``@``, so text with
neither never has a finding). Full-width forms (U+FF01 to U+FF5E) and the ideographic space
(U+3000), which East Asian input methods type for ASCII, are read as the ASCII they stand for, one
character for one, so an address typed with a full-width at sign is found and spans stay
positions in the text as given; other scripts' digits are not read as digits.

``EMAIL``
    ``local@domain.tld``: a dot-atom local part of letters, digits and ``. _ % + -`` (at most 64
    characters), one or more domain labels, and an alphabetic TLD of at least two letters. Anything
    address-shaped counts, including ``git@github.com`` and the userinfo of a URL such as
    ``https://user@example.com`` -- we cannot tell a role address from a person's, and the cost of
    a refusal is small. Not addresses: ``@mentions``, ``user@localhost`` (no TLD), ``pkg@1.2.3``
    (numeric "TLD"), ``/@handle`` in URL paths (``/`` is not allowed in the local part), and
    retina asset names such as ``logo@2x.png``, whose "TLD" is a file extension that is not a
    delegated TLD (``_FILE_EXTENSIONS``).

``PHONE``
    A run of digits joined by single separators (space, ``-``, ``.``, ``/``, or a parenthesised
    group) that is a whole token, i.e. neither glued to letters nor continuing a longer run of
    digits and separators. It counts when it is:

    * E.164: ``+`` (not followed by a space: ``x + 4294967296`` is arithmetic), a non-zero
      country code, and 8 to 15 digits (a ``(0)`` trunk is ignored);
    * NANP: ``(NXX) NXX-XXXX`` or ``NXX-NXX-XXXX`` (``-``, ``.`` or space), optional leading 1;
    * trunk-prefixed national: ``0`` + area code, then groups, 9 to 12 digits (``020 7946 0958``,
      ``06 12 34 56 78``, ``089/1234567``), or ``00`` + a non-zero country code, 11-17 digits;
      but not a US ZIP+4 code (``02110-1301``) nor a byte dump (``01 02 03 04 05``);
    * grouped national without trunk prefix, only in the group shapes countries use: 3-2-2-2
      (``612 34 56 78``), 3-3-4, 3-4-3 and 2-3-2-2, joined by spaces or dashes.

    Never phones: ISO and European dates (even with a time after them or before them), times,
    version numbers, IPv4 addresses, Jira issue keys, UUIDs, amounts with thousands separators
    (``12 345 678``; which also means Portuguese or Czech 3-3-3 numbers are missed), lists of
    numbers, 4-4-4 reference codes, and bare integers without ``+`` -- an unformatted
    ``07700900123`` is a deliberate miss, because app ids and counts look exactly like it.

``PAYMENT_CARD``
    13 to 19 digits, contiguous or in groups (first group of 4) joined by one kind of separator
    (single spaces or single dashes), with a known issuer prefix and a length valid for that
    issuer (Visa 4; Mastercard 51-55, 2221-2720; Amex 34, 37; Discover 6011, 644-649, 65;
    JCB 3528-3589; Diners 300-305, 36, 38; UnionPay 62) and a valid Luhn check digit. A
    contiguous run is never cut out of a longer run of digits; a grouped number may be followed by
    more groups (an expiry date or a CVV after the number), which are trimmed off.

``IBAN``
    Two letters, two check digits, then the BBAN, either contiguous or in groups of four separated
    by single spaces; the ISO 13616 mod-97 check must hold and the length must be the one
    registered for the country (``_IBAN_LENGTHS`` covers all SEPA countries and most others);
    for a country not in the table any length from 15 to 34 is accepted. Upper or lower case (a
    form field may lower-case what a customer typed), except that a contiguous lower-case run of
    hex digits with a hex letter after the check digits is a hex digest, not an IBAN: one in 97 of
    those of the right length would pass the checksum.

``ATLASSIAN_ACCOUNT_ID``
    * the legacy 24-hex-digit form (``5b10ac8d82e05b22cc7d4ef5``), lower-case, with at least one
      digit and one letter (24 decimal digits are a number, not an id). These ids are shaped like
      MongoDB ObjectIds, whose first four bytes are a creation time; every published one starts
      with 5 or 6 (2016-2024), so the first digit must be 5-7 (mid-2012 to 2038), which turns
      away most other 24-hex strings, such as abbreviated git hashes;
    * ``<5-6 digit prefix>:<UUID>`` (``557058:...``, ``712020:...``, ``70121:...``), also
      URL-encoded as ``%3A``;
    * ``qm:<UUID>[:<hex>]``, the Jira Service Management portal-only customer form.

    A bare UUID is not an accountId: apps use UUIDs as ids everywhere. Underscores count as
    separators here (unlike for the other kinds), because apps build keys like
    ``prefs_<accountId>``. Known costs of this rule: a MongoDB ObjectId has exactly the legacy
    shape and is refused, and so is a composite key ``<5-6 digit number>:<UUID>`` (say an issue
    id and a UUID); apps should join such keys with another character.

Findings carry only the kind and the span, never the matched text, so a finding can be logged or
put into an error message without leaking what it found.
"""

from __future__ import annotations

import bisect
import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PiiFinding", "PiiKind", "first_finding", "scan", "scan_value"]


class PiiKind(enum.StrEnum):
    """The kinds of personal data the S2 guard refuses in fields not declared as personal."""

    EMAIL = "email"
    PHONE = "phone"
    PAYMENT_CARD = "payment_card"
    IBAN = "iban"
    ATLASSIAN_ACCOUNT_ID = "atlassian_account_id"


@dataclass(frozen=True, slots=True)
class PiiFinding:
    """Where personal data of one kind was found: ``text[start:end]``. Holds no part of the value."""

    kind: PiiKind
    start: int
    end: int


_A = re.ASCII
_AV = re.ASCII | re.VERBOSE

_DIGIT = re.compile(r"[0-9]", _A)

# --- e-mail -----------------------------------------------------------------------------------

# Matched from the "@" (a literal first lets the engine jump from one "@" to the next); the local
# part is then found by walking back from the "@" (``_local_part_start``).
_EMAIL_DOMAIN = re.compile(
    r"""
    @
    (?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+
    ([A-Za-z]{2,63})                                   # TLD
    (?![A-Za-z0-9-]|\.[A-Za-z0-9])
    """,
    _AV,
)
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-")
_LOCAL_CHARS_NOT_DOT = _LOCAL_CHARS - {"."}
_LOCAL_MAX = 64

# Asset and source file extensions that are not delegated TLDs ("logo@2x.png", "chunk@3.js").
# Extensions that are real TLDs (.md, .py, .zip, .mov, ...) are deliberately absent.
_FILE_EXTENSIONS = frozenset(
    {
        "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif",
        "css", "scss", "js", "mjs", "cjs", "jsx", "ts", "tsx", "map", "json", "yaml", "yml",
        "txt", "lock", "html", "htm", "xml", "woff", "woff2", "ttf", "otf", "pdf",
    }
)  # fmt: skip

# --- Atlassian accountId ----------------------------------------------------------------------
#
# Formats, as found in public documentation (searched 2026-11):
# * "5b10ac8d82e05b22cc7d4ef5" -- the example accountId in Atlassian's Jira Cloud REST OpenAPI
#   ("The account ID of the user, which uniquely identifies the user across all Atlassian
#   products. For example, 5b10ac8d82e05b22cc7d4ef5."), as rendered by jira.js
#   (mrrefactoring.github.io/jira.js) and pub.dev/documentation/atlassian_apis.
# * "384093:32b4d9w0-f6a5-3535-11a3-9c8c88d10192" -- the GenericAccountId example of the
#   Confluence REST OpenAPI (mrrefactoring.github.io/confluence.js); note the non-hex "w", which
#   is why the UUID part after a numeric prefix accepts any letter.
# * "557058:5aedf933-2312-40bc-b328-0c21314167f0" -- docs.automationforjira.com/kb/
#   converting-to-user-account-id.html (the 2019 GDPR move from usernames to accountIds);
#   "557058:145e0983-..." and "557069:145e0983-..." in apps.decadis.net's userAccountId() docs.
# * "712020:<uuid>" and "70121:<uuid>" prefixes appear throughout public code that talks to
#   Jira Cloud (e.g. request bodies for /rest/api/3/issue/{key}/assignee).
# * "qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3581db05e2a66fa80b" -- the customer example of
#   the Jira Service Management REST API (/rest/servicedeskapi/customer); Atlassian's 2018 post
#   "Portal-only customers have a randomly-generated username" (confluence.atlassian.com/
#   servicedeskcloud/blog) introduced the "qm:<alphanumeric-hash>" form.

_ACCOUNT_ID = re.compile(
    r"""
    (?<![0-9A-Za-z])
    (?:[0-9]{5,6}(?::|%3[Aa])[0-9A-Za-z]{8}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{4}-[0-9A-Za-z]{12}
      |qm(?::|%3[Aa])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}
         (?:(?::|%3[Aa])[0-9a-fA-F](?:[0-9a-fA-F-]{0,40}[0-9a-fA-F])?)?
      |(?P<legacy>[5-7][0-9a-f]{23})
    )
    (?![0-9A-Za-z])
    """,
    _AV,
)

# --- IBAN -------------------------------------------------------------------------------------

_IBAN = re.compile(
    r"""
    [A-Za-z](?<![0-9A-Za-z_][A-Za-z])   # first letter (a set first lets the engine skip ahead)
    [A-Za-z][0-9]{2}
    (?:(?:\x20[0-9A-Za-z]{4}){2,7}(?:\x20[0-9A-Za-z]{1,3})?    # printed: groups of four
      |[0-9A-Za-z]{11,30}                                     # electronic: contiguous
    )
    (?![0-9A-Za-z_])
    """,
    _AV,
)

# ISO 13616 registry lengths: every SEPA country, plus the other registered countries whose length
# is stable. Countries not listed fall back to 15-34.
_IBAN_LENGTHS: dict[str, int] = {
    # SEPA
    "AD": 24, "AL": 28, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
    # elsewhere
    "AE": 23, "AZ": 28, "BA": 20, "BH": 22, "BR": 29, "BY": 28, "CR": 22, "DO": 28, "EG": 29,
    "FO": 18, "GE": 22, "GL": 18, "GT": 28, "IL": 23, "IQ": 23, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LY": 25, "MR": 27, "MU": 30, "PK": 24, "PS": 29, "QA": 29, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26,
    "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip

# --- payment card -----------------------------------------------------------------------------

_CARD = re.compile(
    r"""
    (?<![0-9A-Za-z_])
    (?<![0-9][.,\x20-])                 # not the tail of a longer number or digit run
    [0-9](?:[\x20-]?[0-9]){12,}
    (?![0-9A-Za-z_]|[.,][0-9])
    """,
    _AV,
)
_CARD_SEP = re.compile(r"[ -]", _A)

# (lowest prefix, highest prefix, valid lengths); prefixes compared as integers of equal width.
_CARD_ISSUERS: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # American Express
    ("37", "37", frozenset({15})),  # American Express
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),  # Discover
    ("65", "65", frozenset(range(16, 20))),  # Discover
    ("3528", "3589", frozenset(range(16, 20))),  # JCB
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("36", "36", frozenset(range(14, 20))),  # Diners Club
    ("38", "38", frozenset(range(14, 20))),  # Diners Club
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
)
_CARD_FIRST_DIGITS = frozenset(low[0] for low, _, _ in _CARD_ISSUERS)

# --- zones: where cards and phone numbers are looked for --------------------------------------

# A "zone" is a run of digits and separators at least 8 characters long, ending in a digit. Every
# card and every phone number that can pass validation lies in one (plus a "+" or "(" just before
# it), so the precise patterns below run only inside zones: typical text has
# few of them, and a set-first pattern lets the regex engine skip quickly to the next digit.
_ZONE = re.compile(r"[0-9][0-9 .\-/()]{6,}[0-9]", _A)
_ZONE_BEFORE = 3
_ZONE_AFTER = 2  # what the precise patterns' lookaheads need to see past a match

# --- phone ------------------------------------------------------------------------------------

_PHONE = re.compile(
    r"""
    (?<![0-9A-Za-z_+@.\-/\\])           # not inside a token
    (?<![0-9][\x20.\-/:])               # nor continuing an earlier run of digits, or a time
    \+?                                # "+ 42" is arithmetic, not a phone
    (?:\([0-9]{1,5}\)[\x20.\-]?)?       # (area code)
    [0-9]+
    (?:(?:[\x20.\-/]|\x20?\([0-9]{1,5}\)[\x20.\-]?)[0-9]+)*
    (?![0-9A-Za-z_]|[\x20.\-/:][0-9])   # not glued to letters, not followed by a time
    """,
    _AV,
)
_PHONE_NANP = re.compile(r"(?:1[ .-]?)?(?:\([2-9][0-9]{2}\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}", _A)
_PHONE_TRUNK = re.compile(r"(?:\(0[0-9]{1,4}\) ?[0-9]{2,8}|0[0-9]{1,4})(?:[ ./-][0-9]{2,8}){1,4}", _A)
_PHONE_GROUPED = re.compile(r"[1-9][0-9]{1,2}(?:[ -][0-9]{2,4}){2,3}", _A)
# Group sizes of national formats without a trunk prefix: Spain 3-2-2-2, Italy 3-3-4 and 3-4-3,
# Poland 2-3-2-2. Other shapes of plain grouped numbers ("16 32 64 128") are lists, not phones.
_PHONE_GROUPED_SHAPES = frozenset({(3, 2, 2, 2), (3, 3, 4), (3, 4, 3), (2, 3, 2, 2)})
_ZIP_PLUS_4 = re.compile(r"[0-9]{5}-[0-9]{4}", _A)
# A date anywhere among the groups ("2026-11-27 1030", "30 27.11.2026") means it is not a phone.
_PHONE_DATE = re.compile(
    r"(?:^|(?<=\x20))(?:[0-9]{4}[./-][0-9]{1,2}[./-][0-9]{1,2}|[0-9]{1,2}[./-][0-9]{1,2}[./-][0-9]{2,4})(?=$|\x20)",
    _A,
)
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}", _A)
_DIGIT_GROUPS = re.compile(r"[0-9]+", _A)
_NONZERO = frozenset("123456789")
_PHONE_PUNCTUATION = str.maketrans("", "", " .-/()+")


# --- validators -------------------------------------------------------------------------------


_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(digits: str) -> bool:
    total = sum(map(int, digits[-1::-2])) + sum(_LUHN_DOUBLED[int(d)] for d in digits[-2::-2])
    return total % 10 == 0


def _card_ok(candidate: str) -> bool:
    if candidate[0] not in _CARD_FIRST_DIGITS:
        return False
    groups = _CARD_SEP.split(candidate)
    if len(groups) > 1:
        if ("-" in candidate) and (" " in candidate):
            return False
        if len(groups[0]) != 4 or len(groups[-1]) > 6 or any(not 3 <= len(g) <= 6 for g in groups[1:-1]):
            return False
    digits = "".join(groups)
    if not 13 <= len(digits) <= 19:
        return False
    for low, high, lengths in _CARD_ISSUERS:
        if low <= digits[: len(low)] <= high and len(digits) in lengths:
            return _luhn_ok(digits)
    return False


def _mod97_ok(compact: str) -> bool:
    rearranged = compact[4:] + compact[:4]
    value = 0
    for ch in rearranged:
        value = (value * (100 if ch.isalpha() else 10) + int(ch, 36)) % 97
    return value == 1


def _iban_ok(candidate: str) -> bool:
    if _looks_like_hex_digest(candidate):
        return False
    compact = candidate.replace(" ", "").upper()
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is None:
        if not 15 <= len(compact) <= 34:
            return False
    elif len(compact) != expected:
        return False
    return _mod97_ok(compact)


def _looks_like_hex_digest(candidate: str) -> bool:
    return (
        " " not in candidate
        and not candidate.isupper()
        and all(c in _LOWER_HEX for c in candidate)
        and any(c in "abcdef" for c in candidate[4:])
    )


_LOWER_HEX = frozenset("0123456789abcdef")


def _phone_ok(candidate: str) -> bool:
    n_digits = len(candidate.translate(_PHONE_PUNCTUATION))
    if n_digits < 8:  # most candidates: short numbers, dates, versions
        return False
    if candidate.startswith("+"):
        without_trunk = candidate.replace("(0)", "")
        first = _DIGIT.search(without_trunk)
        n_digits = len(without_trunk.translate(_PHONE_PUNCTUATION))
        return first is not None and without_trunk[first.start()] in _NONZERO and n_digits <= 15
    if n_digits < 9 or _PHONE_DATE.search(candidate) or _IPV4.fullmatch(candidate):
        return False
    if _PHONE_NANP.fullmatch(candidate):
        return True
    if candidate.startswith("00"):  # international prefix: a country code follows
        return candidate[2:3] in _NONZERO and bool(_PHONE_TRUNK.fullmatch(candidate)) and 11 <= n_digits <= 17
    groups = _DIGIT_GROUPS.findall(candidate)
    if _PHONE_TRUNK.fullmatch(candidate):
        if _ZIP_PLUS_4.fullmatch(candidate) or all(len(g) == 2 and g[0] == "0" for g in groups):
            return False  # a US ZIP+4 code ("02110-1301") or a byte dump ("01 02 03 04 05")
        return 9 <= n_digits <= 12
    if _PHONE_GROUPED.fullmatch(candidate):
        return tuple(len(g) for g in groups) in _PHONE_GROUPED_SHAPES
    return False


def _card_ends(candidate: str) -> list[int]:
    """Ends to try: the whole run, then (for a grouped run) shorter prefixes ending at a separator.

    A card has at most 19 digits and 18 separators, so only the first 37 characters are cut.
    """
    cuts = [i for i in range(min(len(candidate) - 1, 37), 12, -1) if candidate[i] in " -"]
    return [len(candidate), *cuts]


# --- scanning ---------------------------------------------------------------------------------

# What every finding needs, as one search, each branch a necessary part of a rule above rewritten to start at its
# first digit (so the engine skips straight from digit to digit): a zone (cards, phones), a legacy accountId, the
# "<5 digits>:" of a prefixed one, an IBAN's "CC" + check digits. E-mail needs "@" and the "qm:" accountId needs
# "qm": both are tested as substrings. Most field values (names, keys, short codes) have none of these, and
# proving it costs 0.2-0.8 µs against 2-3 µs for the full scan of a short string (timeit, 2026-11).
# tests/store/test_pii.py checks that first_finding, which uses it, agrees with the full scan.
_CANDIDATE = re.compile(
    r"""
    [0-9](?:
        [0-9\x20.\-/()]{6,}[0-9]              # a zone (as _ZONE)
      | (?<=[5-7])[0-9a-f]{23}                # a legacy accountId
      | [0-9]{4}(?::|%3[Aa])                  # the prefix of "<5-6 digits>:<UUID>"
      | (?<=[A-Za-z]{2}[0-9])[0-9]            # an IBAN's country code and check digits
    )
    """,
    _AV,
)


def _may_hold_personal_data(text: str) -> bool:
    """False when no rule can fire on ``text``: a necessary condition of every rule, far cheaper than the scan."""
    return "@" in text or "qm" in text or (_has_digit(text) and _CANDIDATE.search(text) is not None)


def _has_digit(text: str) -> bool:
    # Ten substring tests, each a memchr: 0.25 µs over 160 characters without a digit, where the regex search for
    # one took 1.2 (timeit). Most field values without a digit are prose, and prose is long.
    return (
        "0" in text
        or "1" in text
        or "2" in text
        or "3" in text
        or "4" in text
        or "5" in text
        or "6" in text
        or "7" in text
        or "8" in text
        or "9" in text
    )


def _local_part_start(text: str, at: int) -> int | None:
    """Where the local part of an address with its "@" at ``at`` begins, or ``None`` if it has none.

    Same rule as a regex would give: the longest run of local-part characters of at most 64 before
    the "@", starting neither with "." nor right after another local-part character, and not
    ending with ".".
    """
    start = at
    while start > 0 and at - start < _LOCAL_MAX and text[start - 1] in _LOCAL_CHARS:
        start -= 1
    while start < at and (text[start] == "." or (start > 0 and text[start - 1] in _LOCAL_CHARS_NOT_DOT)):
        start += 1
    if start == at or text[at - 1] == ".":
        return None
    return start


def _find_all(text: str) -> list[PiiFinding]:
    """Every finding of every kind, possibly overlapping, in the order overlaps are resolved in.

    That order is e-mail, accountId, IBAN, card, phone: the more specific shape first, so an
    address whose local part is a phone number is an e-mail, and an IBAN's digits are no card.
    """
    found: list[PiiFinding] = []
    for m in _EMAIL_DOMAIN.finditer(text):
        start = _local_part_start(text, m.start())
        if start is not None and m.group(1).lower() not in _FILE_EXTENSIONS:
            found.append(PiiFinding(PiiKind.EMAIL, start, m.end()))
    if not _has_digit(text):  # every other kind needs a digit
        return found
    for m in _ACCOUNT_ID.finditer(text):
        legacy = m.group("legacy")
        if _DIGIT.search(m.group()) is not None and not (legacy and legacy.isdigit()):
            found.append(PiiFinding(PiiKind.ATLASSIAN_ACCOUNT_ID, m.start(), m.end()))
    for m in _IBAN.finditer(text):
        value = m.group()
        for end in (len(value), *(i for i in range(len(value) - 1, 4, -1) if value[i] == " ")):
            if _iban_ok(value[:end]):
                found.append(PiiFinding(PiiKind.IBAN, m.start(), m.start() + end))
                break
    zones = [(max(0, z.start() - _ZONE_BEFORE), min(len(text), z.end() + _ZONE_AFTER)) for z in _ZONE.finditer(text)]
    cards: dict[int, PiiFinding] = {}  # keyed by start: neighbouring zones may both see a match
    for lo, hi in zones:
        for m in _CARD.finditer(text, lo, hi):
            value = m.group()
            for end in _card_ends(value):
                if _card_ok(value[:end]):
                    cards[m.start()] = PiiFinding(PiiKind.PAYMENT_CARD, m.start(), m.start() + end)
                    break
    phones: dict[int, PiiFinding] = {}
    for lo, hi in zones:
        for m in _PHONE.finditer(text, lo, hi):
            if _phone_ok(m.group()):
                phones[m.start()] = PiiFinding(PiiKind.PHONE, m.start(), m.end())
    return [*found, *cards.values(), *phones.values()]


# U+FF01-U+FF5E are the full-width forms of "!" to "~", and U+3000 is the ideographic space.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _as_ascii(text: str) -> str:
    """``text`` with full-width forms read as ASCII, one character for one."""
    return text if text.isascii() else text.translate(_FULL_WIDTH)


def scan(text: str) -> list[PiiFinding]:
    """Every finding in ``text``, in order of position, none overlapping another.

    Where candidates overlap, the more specific kind wins: e-mail, then accountId, IBAN, payment
    card, phone (an address whose local part is a phone number is one ``EMAIL`` finding).
    """
    kept: list[PiiFinding] = []  # sorted by start, pairwise disjoint
    for finding in _find_all(_as_ascii(text)):
        i = bisect.bisect_left(kept, finding.start, key=lambda f: f.start)
        if (i > 0 and kept[i - 1].end > finding.start) or (i < len(kept) and kept[i].start < finding.end):
            continue
        kept.insert(i, finding)
    return kept


def first_finding(text: str) -> PiiFinding | None:
    """The earliest finding in ``text``, or ``None`` when it holds no personal data."""
    text = _as_ascii(text)
    if not _may_hold_personal_data(text):
        return None
    findings = scan(text)
    return findings[0] if findings else None


# A number is personal data only as a card number (a bare number is never a phone, IBAN or id),
# and a card has at most 19 digits, so bigger numbers are not rendered at all (which also keeps
# clear of int-to-str's 4300-digit limit).
_BIGGEST_CARD = 10**19


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < _BIGGEST_CARD else None
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() and abs(value) < _BIGGEST_CARD else repr(value)
    return None


def scan_value(value: object) -> PiiFinding | None:
    """The first finding in a JSON-like value, walking it depth-first in order.

    Strings, dict keys and numbers (rendered as decimal strings, so a card number stored as an
    ``int`` is found) are scanned; ``None``, booleans and other types are skipped. The finding's
    span is relative to the string (or rendered number) it was found in.
    """
    if type(value) is str:  # most field values: no walk, no conversion (and a cheaper test than the one below)
        return first_finding(value) if value else None
    if not isinstance(value, Mapping | list | tuple | set | frozenset):
        # Most other field values are one number: no walk needed.
        text = _as_text(value)
        return first_finding(text) if text else None
    stack: list[object] = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping | list | tuple | set | frozenset):
            if id(item) in seen:
                continue
            seen.add(id(item))
            children: list[object] = []
            if isinstance(item, Mapping):
                for key, child in item.items():
                    children.extend((key, child))
            else:
                children.extend(item)
            stack.extend(reversed(children))
            continue
        text = _as_text(item)
        if text:
            found = first_finding(text)
            if found is not None:
                return found
    return None
