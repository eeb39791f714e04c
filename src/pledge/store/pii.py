"""S2 detector: find personal data in values written to fields not declared as personal data.

Promise S2 is "we store no personal information unless the app's documentation says so". A field
the app declares as personal data is stored (encrypted) as such; every other field is scanned here,
and a value with a finding is refused. A refusal costs an app developer one rename or one
declaration; a miss puts personal data where the statement says there is none. Even so, a guard
that cries wolf gets switched off, so every rule below prefers precision: it fires on shapes that
are hard to produce by accident and leaves ambiguous ones alone.

Values are folded before the rules run (see "normalisation" below): each character outside ASCII
through NFKC (full-width forms, mathematical digits), format characters (zero-width spaces, bidi
marks, soft hyphens) and combining marks dropped, digits of every script read as ASCII digits,
Unicode spaces, dashes and dots read as " ", "-" and ".", Cyrillic, Greek and Armenian letters that
look Latin read as the Latin letter; then percent-encoding and HTML character references are
decoded (two layers deep at most) and the result folded again. Spans are positions in the value as
given. Every rule needs a digit or an ``@`` in the folded value, so text with neither never has a
finding.

Not detected, by design: names, postal addresses, IP addresses, dates of birth and other free-text
personal data (no shape to find them by), e-mail addresses written with words ("alice at example
dot com"), and numbers spelled in words.

``EMAIL``
    ``local@domain.tld``: a dot-atom local part of letters (any script), digits and ``. _ % + - '``
    (at most 64 characters) or a quoted local part (``"alice smith"@``), then one or more domain
    labels of letters (any script), digits and hyphens and a TLD of at least two letters or an
    A-label (``xn--p1ai``), or an address literal (``alice@[192.0.2.1]``, ``[IPv6:...]``). Anything
    address-shaped counts, including ``git@github.com`` and the userinfo of a URL such as
    ``https://user@example.com`` -- we cannot tell a role address from a person's, and the cost of
    a refusal is small. Not addresses: ``@mentions``, ``user@localhost`` (no TLD), ``pkg@1.2.3``
    (numeric "TLD"), ``/@handle`` in URL paths (``/`` is not allowed in the local part), and
    retina asset names such as ``logo@2x.png``, whose "TLD" is a file extension that is not a
    delegated TLD (``_FILE_EXTENSIONS``).

``PHONE``
    A run of digits joined by single separators (space, ``-``, ``.``, ``/``, or a parenthesised
    group) that is a whole token, i.e. neither glued to letters nor continuing a longer run of
    digits and separators (a URL path segment of its own counts: ``/users/+1 202-555-0143``). It counts when it is:

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
    (single spaces, dashes or dots), with a known issuer prefix and a length valid for that
    issuer (Visa 4; Mastercard 51-55, 2221-2720; Amex 34, 37; Discover 6011, 644-649, 65;
    JCB 3528-3589; Diners 300-305, 36, 38; UnionPay 62) and a valid Luhn check digit. A
    contiguous run is never cut out of a longer run of digits; a grouped number may be followed by
    more groups (an expiry date or a CVV after the number), which are trimmed off.

``IBAN``
    Two letters, two check digits, then the BBAN, either contiguous or in groups of four separated
    by one kind of single separator (space, dash or dot); the ISO 13616 mod-97 check must hold and
    the length must be the one registered for the country (``_IBAN_LENGTHS`` covers all SEPA countries and most others);
    for a country not in the table any length from 15 to 34 is accepted. Upper or lower case (a
    form field may lower-case what a customer typed), except that a contiguous lower-case run of
    hex digits with a hex letter after the check digits is a hex digest, not an IBAN: one in 97 of
    those of the right length would pass the checksum.

``ATLASSIAN_ACCOUNT_ID``
    * the legacy 24-hex-digit form (``5b10ac8d82e05b22cc7d4ef5``), all lower or all upper case,
      with at least one digit and one letter (24 decimal digits are a number, not an id). These ids are shaped like
      MongoDB ObjectIds, whose first four bytes are a creation time; every published one starts
      with 5 or 6 (2016-2024), so the first digit must be 5-7 (mid-2012 to 2038), which turns
      away most other 24-hex strings, such as abbreviated git hashes;
    * ``<5-6 digit prefix>:<UUID>`` (``557058:...``, ``712020:...``, ``70121:...``), also
      URL-encoded as ``%3A``;
    * ``qm:<UUID>[:<hex>]``, the Jira Service Management portal-only customer form (or ``QM:``).

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
import codecs
import enum
import html
import math
import re
import unicodedata
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
# Labels and the local part may hold letters of any script (internationalised addresses; by then the value is
# folded, so what is left outside ASCII is letters and symbols): ``[^\W_]`` is a letter or digit of any script.
_EMAIL_DOMAIN = re.compile(
    r"""
    @
    (?:(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+
       ([^\W\d_]{2,63}|xn--[A-Za-z0-9-]{1,59})             # TLD: letters, or an A-label
       (?![^\W_]|-|\.[^\W_])
      |\[(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|IPv6:[0-9A-Fa-f:.]{2,45})\]  # address literal
    )
    """,
    re.VERBOSE,
)
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-'")
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
      |(?:qm|QM)(?::|%3[Aa])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}
         (?:(?::|%3[Aa])[0-9a-fA-F](?:[0-9a-fA-F-]{0,40}[0-9a-fA-F])?)?
      |(?P<legacy>[5-7][0-9a-f]{23}|[5-7][0-9A-F]{23})
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
    (?:([\x20.\-])[0-9A-Za-z]{4}(?:\1[0-9A-Za-z]{4}){1,6}(?:\1[0-9A-Za-z]{1,3})?  # printed: groups of four
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
    [0-9](?:[\x20.\-]?[0-9]){12,}
    (?![0-9A-Za-z_]|,[0-9])
    """,
    _AV,
)
_CARD_SEP = re.compile(r"[ .\-]", _A)

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
    (?<![0-9A-Za-z_+@.\-\\])            # not inside a token (a "/" may end a path segment before it)
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
        if len(set(_CARD_SEP.findall(candidate))) > 1:  # one kind of separator throughout
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
    compact = candidate.translate(_IBAN_SEPARATORS).upper()
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is None:
        if not 15 <= len(compact) <= 34:
            return False
    elif len(compact) != expected:
        return False
    return _mod97_ok(compact)


def _looks_like_hex_digest(candidate: str) -> bool:
    return (
        candidate.isalnum()
        and not candidate.isupper()
        and all(c in _LOWER_HEX for c in candidate)
        and any(c in "abcdef" for c in candidate[4:])
    )


_LOWER_HEX = frozenset("0123456789abcdef")
_IBAN_SEPARATORS = str.maketrans("", "", " .-")


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
    cuts = [i for i in range(min(len(candidate) - 1, 37), 12, -1) if candidate[i] in " .-"]
    return [len(candidate), *cuts]


# --- normalisation ----------------------------------------------------------------------------
#
# The rules below match ASCII. Before they run, a value is folded to the ASCII its writer meant, so that a
# spelling a person or a program may produce for the same data is found: each character outside ASCII is read
# through Unicode NFKC (full-width forms, mathematical digits, ligatures, circled digits), then format characters
# (category Cf: zero-width spaces and joiners, bidi controls, soft hyphens) and combining marks are dropped, decimal
# digits of any script become ASCII digits, space separators (Zs) a space, dashes (Pd) and the minus sign "-", dot-
# and slash-like punctuation "." and "/", and the Cyrillic, Greek and Armenian letters that look like Latin ones
# (``_LOOKALIKES``) their Latin letter. Then percent-encoding and HTML character references are decoded, and the
# result folded again; decoding runs twice at most (``%2540`` is found, a third layer of encoding is not). Every
# step records which characters of its input each output character came from, so a finding's span is a span of the
# value as given.

_LOOKALIKES = {
    **dict(zip("аеорсухѕіјԁԛԝӏһүɑɡıȷ", "aeopcyxsijdqwlhyagij", strict=True)),  # Cyrillic and Latin-extended lower case
    **dict(zip("АВЕКМНОРСТХЅІЈԚԜӀҮ", "ABEKMHOPCTXSIJQWIY", strict=True)),  # Cyrillic upper case
    **dict(zip("αινορυχκ", "aivopuxk", strict=True)),  # Greek lower case
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX", strict=True)),  # Greek upper case
    **dict(zip("օսոհզց", "ounhqg", strict=True)),  # Armenian
    **dict.fromkeys("·‧∙⋅・。｡︒۔", "."),  # middle dots and ideographic full stops (IDNA reads the latter as ".")
    **dict.fromkeys("⁄∕", "/"),
    "−": "-",
}
_LOOKALIKE_LETTERS = {ord(c): latin for c, latin in _LOOKALIKES.items() if c.isalpha()}
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Mc", "Me"})
# A run of letters already in NFKC folds to itself but for look-alikes (a letter is not a format character, mark,
# digit, space or dash): most text outside ASCII is such runs, and str.translate folds them far faster than one
# character at a time. A run outside ASCII that is not all letters (CJK text has no spaces to end runs) is cut into
# runs of letters and runs of other characters (digits, spaces, marks, punctuation).
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_LETTERS_OR_OTHERS = re.compile(r"[^\W\d_]+|[\W\d_]+")
# Percent-encoded bytes, or an HTML character reference: numeric, or named and closed by ";" (browsers also read a
# few legacy names without it, "&nbsp", which are not decoded here; requiring the ";" keeps query strings such as
# "&page=2" from costing a lookup). A set first lets the engine skip to the next "%" or "&".
_ENCODED = re.compile(
    r"""
    [%&](?:(?<=%)[0-9A-Fa-f]{2}(?:%[0-9A-Fa-f]{2})*
          |(?<=&)(?:\#[0-9]{1,7};?|\#[xX][0-9A-Fa-f]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)
    )
    """,
    _AV,
)
_DECODING_ROUNDS = 2


def _folded_char(char: str) -> str:
    folded = []
    for c in unicodedata.normalize("NFKC", char):
        if c.isascii():
            folded.append(c)
        elif c in _LOOKALIKES:
            folded.append(_LOOKALIKES[c])
        else:
            category = unicodedata.category(c)
            if category == "Nd":
                folded.append(str(unicodedata.decimal(c)))
            elif category == "Zs":
                folded.append(" ")
            elif category == "Pd":
                folded.append("-")
            elif category not in _DROPPED_CATEGORIES:
                folded.append(c)
    return "".join(folded)


@dataclass(frozen=True, slots=True)
class _Rewrite:
    """One normalisation step: which input characters each changed piece of the output came from.

    ``pieces`` are ``(out_start, out_end, in_start, in_end)``, in order; text between pieces is unchanged.
    """

    pieces: list[tuple[int, int, int, int]]
    out_starts: list[int]

    def start(self, position: int) -> int:
        i = bisect.bisect_right(self.out_starts, position) - 1
        if i < 0:
            return position
        _, out_end, in_start, in_end = self.pieces[i]
        return in_start if position < out_end else position - out_end + in_end

    def end(self, position: int) -> int:
        last = position - 1
        i = bisect.bisect_right(self.out_starts, last) - 1
        if i < 0:
            return position
        _, out_end, _, in_end = self.pieces[i]
        return in_end if last < out_end else position - out_end + in_end


class _Rewriter:
    """Builds the output of one step from ``text`` and replacements of its spans, in order."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._parts: list[str] = []
        self._pieces: list[tuple[int, int, int, int]] = []
        self._read = 0
        self._written = 0

    def replace(self, start: int, end: int, new: str) -> None:
        self._parts.append(self._text[self._read : start])
        self._written += start - self._read
        self._parts.append(new)
        if len(new) != end - start:  # a same-length replacement keeps every position where it was
            self._pieces.append((self._written, self._written + len(new), start, end))
        self._written += len(new)
        self._read = end

    def result(self, steps: list[_Rewrite]) -> str:
        """The rewritten text; its way back to ``text`` is appended to ``steps`` if positions moved."""
        if not self._parts:
            return self._text
        self._parts.append(self._text[self._read :])
        if self._pieces:
            steps.append(_Rewrite(self._pieces, [piece[0] for piece in self._pieces]))
        return "".join(self._parts)


def _fold_characters(text: str, steps: list[_Rewrite]) -> str:
    rewriter = _Rewriter(text)
    seen: dict[str, str] = {}  # text in most scripts repeats its characters
    for run in _NON_ASCII.finditer(text):
        if run.group().isalpha():
            _fold_run(run, rewriter, seen)
        else:
            for part in _LETTERS_OR_OTHERS.finditer(text, run.start(), run.end()):
                _fold_run(part, rewriter, seen)
    return rewriter.result(steps)


def _fold_run(run: re.Match[str], rewriter: _Rewriter, seen: dict[str, str]) -> None:
    chars = run.group()
    if chars.isalpha() and unicodedata.is_normalized("NFKC", chars):
        folded = chars.translate(_LOOKALIKE_LETTERS)
        if folded != chars:
            rewriter.replace(run.start(), run.end(), folded)
        return
    pieces = [seen[c] if c in seen else seen.setdefault(c, _folded_char(c)) for c in chars]
    if all(len(piece) == 1 for piece in pieces):  # one for one: positions do not move
        folded = "".join(pieces)
        if folded != chars:
            rewriter.replace(run.start(), run.end(), folded)
        return
    for i, (char, piece) in enumerate(zip(chars, pieces, strict=True), run.start()):
        if piece != char:
            rewriter.replace(i, i + 1, piece)


def _decode(text: str, steps: list[_Rewrite]) -> str:
    """``text`` with percent-encoded UTF-8 and HTML character references decoded, one layer deep."""
    rewriter = _Rewriter(text)
    for m in _ENCODED.finditer(text):
        if m.group()[0] == "&":
            decoded = html.unescape(m.group())
            if decoded != m.group():
                rewriter.replace(m.start(), m.end(), decoded)
            continue
        # Character by character, so that each decoded character's span is its own bytes.
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        data = bytes.fromhex(m.group().replace("%", ""))
        first = 0
        for i in range(len(data)):
            decoded = decoder.decode(data[i : i + 1], final=i == len(data) - 1)
            if decoded:
                rewriter.replace(m.start() + 3 * first, m.start() + 3 * (i + 1), decoded)
                first = i + 1
    return rewriter.result(steps)


@dataclass(frozen=True, slots=True)
class _Folded:
    """A value folded for scanning, and the way back from positions in it to positions in the value."""

    text: str
    steps: tuple[_Rewrite, ...] = ()

    def span(self, start: int, end: int) -> tuple[int, int]:
        for step in reversed(self.steps):
            start, end = step.start(start), step.end(end)
        return start, end


def _fold(text: str) -> _Folded:
    steps: list[_Rewrite] = []
    if not text.isascii():
        text = _fold_characters(text, steps)
    for _ in range(_DECODING_ROUNDS):
        if "%" not in text and "&" not in text:
            break
        decoded = _decode(text, steps)
        if decoded == text:
            break
        text = decoded if decoded.isascii() else _fold_characters(decoded, steps)
    return _Folded(text, tuple(steps))


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
      | (?<=[5-7])(?:[0-9a-f]{23}|[0-9A-F]{23})  # a legacy accountId
      | [0-9]{4}(?::|%3[Aa])                  # the prefix of "<5-6 digits>:<UUID>"
      | (?<=[A-Za-z]{2}[0-9])[0-9]            # an IBAN's country code and check digits
    )
    """,
    _AV,
)


def _may_hold_personal_data(text: str) -> bool:
    """False when no rule can fire on ``text``: a necessary condition of every rule, far cheaper than the scan."""
    return "@" in text or "qm" in text or "QM" in text or (_has_digit(text) and _CANDIDATE.search(text) is not None)


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


def _is_local_char(char: str) -> bool:
    return char in _LOCAL_CHARS or (not char.isascii() and char.isalnum())


def _local_part_start(text: str, at: int) -> int | None:
    """Where the local part of an address with its "@" at ``at`` begins, or ``None`` if it has none.

    Same rule as a regex would give: the longest run of local-part characters of at most 64 before
    the "@", starting neither with "." nor "'" nor right after another local-part character, and not
    ending with "."; or a quoted local part (``"alice smith"@``) of at most 64 characters on one line.
    """
    if at > 0 and text[at - 1] == '"':
        opening = text.rfind('"', max(0, at - 2 - _LOCAL_MAX), at - 1)
        return None if opening < 0 or opening == at - 2 or "\n" in text[opening:at] else opening
    start = at
    while start > 0 and at - start < _LOCAL_MAX and _is_local_char(text[start - 1]):
        start -= 1
    while start < at and (
        text[start] in ".'" or (start > 0 and _is_local_char(text[start - 1]) and text[start - 1] not in ".'")
    ):
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
        tld = m.group(1)
        if start is not None and (tld is None or tld.lower() not in _FILE_EXTENSIONS):
            found.append(PiiFinding(PiiKind.EMAIL, start, m.end()))
    if not _has_digit(text):  # every other kind needs a digit
        return found
    for m in _ACCOUNT_ID.finditer(text):
        legacy = m.group("legacy")
        if _DIGIT.search(m.group()) is not None and not (legacy and legacy.isdigit()):
            found.append(PiiFinding(PiiKind.ATLASSIAN_ACCOUNT_ID, m.start(), m.end()))
    for m in _IBAN.finditer(text):
        value = m.group()
        for end in (len(value), *(i for i in range(len(value) - 1, 4, -1) if value[i] in " .-")):
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


def _all_findings(folded: _Folded) -> list[PiiFinding]:
    """Every finding in the folded value, as spans of the value as given, in order, none overlapping another."""
    kept: list[PiiFinding] = []  # sorted by start, pairwise disjoint
    for found in _find_all(folded.text):
        start, end = folded.span(found.start, found.end)
        i = bisect.bisect_left(kept, start, key=lambda f: f.start)
        if (i > 0 and kept[i - 1].end > start) or (i < len(kept) and kept[i].start < end):
            continue
        kept.insert(i, PiiFinding(found.kind, start, end))
    return kept


def scan(text: str) -> list[PiiFinding]:
    """Every finding in ``text``, in order of position, none overlapping another.

    Where candidates overlap, the more specific kind wins: e-mail, then accountId, IBAN, payment
    card, phone (an address whose local part is a phone number is one ``EMAIL`` finding). Spans
    are positions in ``text`` as given, covering every character the finding was folded from.
    """
    if text.isascii() and "%" not in text and "&" not in text:  # most values: nothing to fold or decode
        return _all_findings(_Folded(text)) if _may_hold_personal_data(text) else []
    folded = _fold(text)
    return _all_findings(folded) if _may_hold_personal_data(folded.text) else []


def first_finding(text: str) -> PiiFinding | None:
    """The earliest finding in ``text``, or ``None`` when it holds no personal data."""
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
