"""A labelled corpus for the S2 personal-data detector (``pledge.store.pii``).

``TRUE_POSITIVES`` are ``(label, text, kind)``: the text holds personal data of ``kind`` and the
detector must report it. ``FALSE_POSITIVES`` are ``(label, text)``: ordinary app data that merely
looks numeric or structured, which the detector must let through.

Every value is made up or a published test/example value: card-network test numbers, the example
IBANs of national banking associations, ``example.com``/``.org``/``.net`` addresses, and numbers
from ranges reserved for fiction (NANP 555-01xx, Ofcom's 020 7946 0xxx and 07700 900xxx, ACMA's
0491 570 xxx, ARCEP's 01 99 00 xx xx). Atlassian accountIds are either documentation examples or
invented. Nothing here identifies a real person.

When the detector changes, add the case that motivated it here, on the side it belongs to.

``EVASIONS`` respells a few values of each kind in every way issue #11 found to get past an ASCII reading (format
characters, look-alike letters, other separators, other scripts' digits, percent-encoding, character references,
full-width forms, upper case); they are part of ``TRUE_POSITIVES``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from urllib.parse import quote

from pledge.store.pii import PiiKind

EMAIL = PiiKind.EMAIL
PHONE = PiiKind.PHONE
CARD = PiiKind.PAYMENT_CARD
IBAN = PiiKind.IBAN
ACCOUNT = PiiKind.ATLASSIAN_ACCOUNT_ID

TRUE_POSITIVES: list[tuple[str, str, PiiKind]] = [
    # --- e-mail -----------------------------------------------------------------------------
    ("bare address", "alice@example.com", EMAIL),
    ("address in a sentence", "Please ping bob.smith@example.org when the sync finishes.", EMAIL),
    ("plus-tagged", "carol+jira-digest@example.net", EMAIL),
    ("angle-bracketed", "From: Dave Example <dave@example.com>", EMAIL),
    ("mailto link", "[write to us](mailto:support-team@example.org)", EMAIL),
    ("multi-label domain", "erin_o@mail.sub.example.co.uk", EMAIL),
    ("upper case", "FRANK.EXAMPLE@EXAMPLE.COM", EMAIL),
    ("git remote (address-shaped, by decision)", "git@github.com:example/repo.git", EMAIL),
    ("URL userinfo (address-shaped, by decision)", "https://grace@example.com/path", EMAIL),
    ("in JSON", '{"reporter": "heidi@example.org", "count": 3}', EMAIL),
    ("after a comma, before a dot", "cc: ivan@example.com, judy@example.com.", EMAIL),
    # --- phone ------------------------------------------------------------------------------
    ("E.164 US with dashes", "+1 202-555-0143", PHONE),
    ("E.164 compact", "call +12025550143 now", PHONE),
    ("tel: URI", "tel:+12025550188", PHONE),
    ("E.164 US with parentheses", "+1 (202) 555-0175", PHONE),
    ("E.164 UK with (0) trunk", "Office: +44 (0)20 7946 0958", PHONE),
    ("E.164 UK", "+44 20 7946 0321", PHONE),
    ("E.164 Germany", "+49 30 12345678", PHONE),
    ("E.164 France with dots", "+33.1.99.00.12.34", PHONE),
    ("E.164 Australia mobile", "+61 491 570 156", PHONE),
    ("NANP with parentheses", "(202) 555-0143", PHONE),
    ("NANP with dashes", "Mobile: 202-555-0199.", PHONE),
    ("NANP with dots", "202.555.0112", PHONE),
    ("NANP with leading 1", "1-202-555-0143", PHONE),
    ("UK national", "ring 020 7946 0958 after 5", PHONE),
    ("UK mobile national", "07700 900123", PHONE),
    ("France national", "01 99 00 12 34", PHONE),
    ("Germany national with slash", "Tel. 030/12345678", PHONE),
    ("Australia mobile national", "0491 570 156", PHONE),
    ("international 00 prefix", "0044 20 7946 0958", PHONE),
    ("grouped national without trunk prefix", "612 34 56 78", PHONE),
    ("grouped 3-3-4 without trunk prefix", "347 123 4567", PHONE),
    ("grouped 2-3-2-2 without trunk prefix", "22 123 45 67", PHONE),
    # --- payment card -----------------------------------------------------------------------
    ("Visa grouped by spaces", "4111 1111 1111 1111", CARD),
    ("Visa contiguous", "card=4242424242424242;", CARD),
    ("Visa grouped by dashes", "4012-8888-8888-1881", CARD),
    ("Visa 13 digits", "4222222222222", CARD),
    ("Mastercard", "5555 5555 5555 4444", CARD),
    ("Mastercard 2-series", "2223003122003222", CARD),
    ("Amex 4-6-5", "3782 822463 10005", CARD),
    ("Amex contiguous", "371449635398431", CARD),
    ("Discover", "6011 1111 1111 1117", CARD),
    ("JCB", "3530111333300000", CARD),
    ("Diners 14 digits", "3056 930902 5904", CARD),
    ("UnionPay 19 digits", "6205500000000000004", CARD),
    ("card followed by expiry and CVV", "4111 1111 1111 1111 12/28 123", CARD),
    ("card in prose", "Customer paid with 5105-1051-0510-5100 yesterday", CARD),
    # --- IBAN -------------------------------------------------------------------------------
    ("GB printed", "GB82 WEST 1234 5698 7654 32", IBAN),
    ("GB electronic", "iban=GB82WEST12345698765432", IBAN),
    ("DE printed", "DE89 3704 0044 0532 0130 00", IBAN),
    ("FR with letter in BBAN", "FR14 2004 1010 0505 0001 3M02 606", IBAN),
    ("NL", "NL91ABNA0417164300", IBAN),
    ("BE followed by a word", "BE68 5390 0754 7034 THANKS", IBAN),
    ("NO shortest", "NO93 8601 1117 947", IBAN),
    ("MT longest SEPA", "MT84 MALT 0110 0001 2345 MTLC AST0 01S", IBAN),
    ("CH in a sentence", "Pay to CH93 0076 2011 6238 5295 7 by Friday.", IBAN),
    ("DE lower-case printed", "de89 3704 0044 0532 0130 00", IBAN),
    ("GB lower-case electronic", "gb82west12345698765432", IBAN),
    ("DE lower-case, digits only", "iban: de89370400440532013000", IBAN),
    ("full-width address", "連絡先: ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", EMAIL),
    ("full-width phone, ideographic spaces", "電話 ＋４４　２０　７９４６　０９５８", PHONE),
    # --- Atlassian accountId ----------------------------------------------------------------
    ("legacy 24-hex (REST docs example)", "5b10ac8d82e05b22cc7d4ef5", ACCOUNT),
    ("legacy in a people URL", "https://example.atlassian.net/jira/people/5b10ac8d82e05b22cc7d4ef5", ACCOUNT),
    ("legacy inside a storage key", "prefs_5d3f0a1b2c4e6f7089a1b2c3", ACCOUNT),
    ("legacy, 2021-style", "watchers=600e1a2b3c4d5e6f7a8b9c0d", ACCOUNT),
    ("legacy, upper case", "5B10AC8D82E05B22CC7D4EF5", ACCOUNT),
    ("557058 prefix", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", ACCOUNT),
    ("712020 prefix", '{"assignee": "712020:0e8a2c1d-5b3f-4a6e-9d7c-1f2e3d4c5b6a"}', ACCOUNT),
    ("70121 prefix", "70121:9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", ACCOUNT),
    ("URL-encoded prefix", "user?accountId=557058%3Af58131cb-b67d-43c7-b30d-6b58d40bd077", ACCOUNT),
    ("OpenAPI example with non-hex char", "384093:32b4d9w0-f6a5-3535-11a3-9c8c88d10192", ACCOUNT),
    ("JSM customer (qm:)", "qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3581db05e2a66fa80b", ACCOUNT),
    (
        "JSM customer, two UUIDs",
        "qm:1d2c3b4a-0f9e-4d8c-a7b6-5e4d3c2b1a09:0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d",
        ACCOUNT,
    ),
    # --- spellings that hide the data from an ASCII reading (issue #11) ---------------------
    ("zero-width space before the at sign", "alice.smith\u200b@example.com", EMAIL),
    ("soft hyphen in the local part", "ali\u00adce@example.com", EMAIL),
    ("bidi marks around the at sign", "alice\u200e@\u200fexample.com", EMAIL),
    ("Cyrillic a in the domain", "alice@ex\u0430mple.com", EMAIL),
    ("Cyrillic o and e in the local part", "b\u043eb.smith\u0435@example.org", EMAIL),
    ("Greek omicron in the TLD", "carol@example.c\u03bfm", EMAIL),
    ("percent-encoded at sign", "alice.smith%40example.com", EMAIL),
    ("percent-encoded, lower-case hex", "mailto:alice%40example%2ecom", EMAIL),
    ("percent-encoded twice", "to=alice%2540example.com", EMAIL),
    ("decimal character reference", "alice&#64;example.com", EMAIL),
    ("hexadecimal character reference", "alice&#x40;example.com", EMAIL),
    ("named character references", "alice&commat;example&period;com", EMAIL),
    ("character reference escaped once more", "alice&amp;#64;example.com", EMAIL),
    ("character reference inside percent-encoding", "alice%26%2364%3Bexample.com", EMAIL),
    ("small commercial at", "alice\ufe6bexample.com", EMAIL),
    ("ideographic full stop in the domain", "alice@example\u3002com", EMAIL),
    ("internationalised domain", "alice@b\u00fccher.de", EMAIL),
    ("internationalised domain, decomposed umlaut", "alice@bu\u0308cher.de", EMAIL),
    ("Cyrillic address", "\u043f\u043e\u0447\u0442\u0430@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", EMAIL),
    ("Chinese address", "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", EMAIL),
    (
        "Devanagari address (combining marks)",
        "\u0905\u091c\u092f@\u0921\u093e\u091f\u093e.\u092d\u093e\u0930\u0924",
        EMAIL,
    ),
    (
        "Greek address",
        "\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae@\u03c0\u03b1\u03c1\u03ac\u03b4\u03b5\u03b9\u03b3\u03bc\u03b1.\u03b4\u03bf\u03ba\u03b9\u03bc\u03ae",
        EMAIL,
    ),
    ("A-label TLD", "alice@example.xn--p1ai", EMAIL),
    ("quoted local part with a space", '"alice smith"@example.com', EMAIL),
    ("quoted local part with an at sign", 'reply to "alice@home"@example.org today', EMAIL),
    ("IPv4 address literal", "alice@[192.0.2.1]", EMAIL),
    ("IPv6 address literal", "bob@[IPv6:2001:db8::1]", EMAIL),
    ("apostrophe in the local part", "o'brien@example.com", EMAIL),
    ("phone with no-break spaces", "+44\u00a020\u00a07946\u00a00958", PHONE),
    ("phone with narrow and thin spaces", "+44\u202f20\u20097946\u20070958", PHONE),
    ("phone with non-breaking hyphens", "+1\u2011202\u2011555\u20110143", PHONE),
    ("phone with en dashes", "202\u2013555\u20130143", PHONE),
    (
        "phone in full-width digits, ASCII spaces",
        "\uff10\uff12\uff10 \uff17\uff19\uff14\uff16 \uff10\uff19\uff15\uff18",
        PHONE,
    ),
    ("phone in Arabic-Indic digits", "+\u0669\u0667\u0661 \u0664 \u0663\u0666\u0663 \u0664\u0665\u0666\u0667", PHONE),
    (
        "phone in Devanagari digits",
        "+\u096f\u0967 \u096f\u096e\u096d\u096c\u096b \u096a\u0969\u0968\u0967\u0966",
        PHONE,
    ),
    ("phone, zero-width joiners between digits", "+44 20 79\u200d46 09\u200d58", PHONE),
    ("phone, percent-encoded plus and spaces", "tel=%2B44%2020%207946%200958", PHONE),
    ("card with dots", "4111.1111.1111.1111", CARD),
    ("card with no-break spaces", "4111\u00a01111\u00a01111\u00a01111", CARD),
    ("card with en dashes", "4111\u20131111\u20131111\u20131111", CARD),
    ("card with figure dashes", "5555\u20125555\u20125555\u20124444", CARD),
    (
        "card in Devanagari digits",
        "\u096a\u0967\u0967\u0967 \u0967\u0967\u0967\u0967 \u0967\u0967\u0967\u0967 \u0967\u0967\u0967\u0967",
        CARD,
    ),
    (
        "card in mathematical bold digits",
        "\U0001d7d2\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf\U0001d7cf",
        CARD,
    ),
    ("card with a combining mark on a digit", "4111 1111 1111 111\u03011", CARD),
    (
        "card as decimal character references",
        "&#52;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;&#49;",
        CARD,
    ),
    ("IBAN with dashes", "DE89-3704-0044-0532-0130-00", IBAN),
    ("IBAN with dots", "DE89.3704.0044.0532.0130.00", IBAN),
    ("IBAN with no-break spaces", "DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", IBAN),
    (
        "IBAN in full-width forms",
        "\uff24\uff25\uff18\uff19 \uff13\uff17\uff10\uff14 \uff10\uff10\uff14\uff14"
        " \uff10\uff15\uff13\uff12 \uff10\uff11\uff13\uff10 \uff10\uff10",
        IBAN,
    ),
    ("IBAN with Cyrillic country letters", "\u0412\u0415\u0036\u0038 5390 0754 7034", IBAN),
    ("IBAN with a zero-width space", "GB82 WEST\u200b 1234 5698 7654 32", IBAN),
    ("accountId, upper-case prefixed form", "557058:F58131CB-B67D-43C7-B30D-6B58D40BD077", ACCOUNT),
    ("accountId, upper-case qm form", "QM:A713C8EA-1075-4E30-9D96-891A7D181739", ACCOUNT),
    ("accountId, encoded twice", "accountId=557058%253Af58131cb-b67d-43c7-b30d-6b58d40bd077", ACCOUNT),
    ("accountId with a Cyrillic e", "5b10ac8d82\u0435\u0030\u0035b22cc7d4ef5", ACCOUNT),
    ("accountId with a zero-width space", "5b10ac8d82e05b\u200b22cc7d4ef5", ACCOUNT),
    (
        "accountId in full-width forms",
        "\uff15\uff42\uff11\uff10\uff41\uff43\uff18\uff44\uff18\uff12\uff45\uff10\uff15\uff42\uff12\uff12\uff43\uff43\uff17\uff44\uff14\uff45\uff46\uff15",
        ACCOUNT,
    ),
]

FALSE_POSITIVES: list[tuple[str, str]] = [
    # --- dates and times --------------------------------------------------------------------
    ("ISO date", "2026-11-27"),
    ("ISO timestamp", "2026-11-27T10:30:00.000+0100"),
    ("ISO date and time with space", "due 2026-11-27 10:30:45+01:00"),
    ("European date and time", "01.02.2026 12:30"),
    ("US date", "11/27/2026"),
    ("time of day", "10:30:45"),
    ("timezone offset", "UTC+05:30"),
    ("ISO-8601 duration", "PT1H30M"),
    ("cron expression", "0 0 12 * * ?"),
    # --- versions, keys, ids ----------------------------------------------------------------
    ("dotted version", "1.2.3.4"),
    ("Windows build", "Windows 10.0.19041.1234"),
    ("semver with build metadata", "1.0.0+20261127"),
    ("pre-release version", "v2.14.0-rc.1"),
    ("Jira issue key", "ABC-1234"),
    ("long Jira issue key", "See PROJ-123456789 and OPS-12 for details"),
    ("UUID", "f58131cb-b67d-43c7-b30d-6b58d40bd077"),
    ("all-digit UUID", "12345678-1234-5678-1234-567812345678"),
    ("Atlassian cloudId in an ARI", "ari:cloud:jira:a436116f-02ce-4520-8fbb-7301462a1674:issue/10001"),
    ("24 decimal digits", "123456789012345678901234"),
    ("24 hex without digits", "deadbeefcafebabefacadeab"),
    ("24-hex abbreviated git hash", "(cherry-pick 96a4647fca54031974cd6ad1 later)"),
    ("order number", "ORD-2026-000123"),
    ("numeric id", "123456789"),
    ("issue id in a key", "issue/10042/comments/200312"),
    ("epoch milliseconds", "1764241200000"),
    ("19-digit snowflake", "1764241200123456789"),
    ("build stamp", "2026.11.27.1030"),
    ("ISBN", "ISBN 978-3-16-148410-0"),
    # --- network, hashes, colours -----------------------------------------------------------
    ("IPv4", "192.168.100.200"),
    ("IPv4 with port", "10.0.0.1:8080"),
    ("IPv6", "2001:db8::8a2e:370:7334"),
    ("hex colour", "#1a2b3c"),
    ("upper-case hex colour", "color: #FFAA00;"),
    ("git short sha", "fixed in a1b2c3d"),
    ("SHA-1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    ("SHA-256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("MD5", "d41d8cd98f00b204e9800998ecf8427e"),
    # --- URLs, markup, queries --------------------------------------------------------------
    ("URL with numbers", "https://example.com/browse/ABC-123?filter=10001&startAt=50"),
    ("handle in URL path", "https://social.example/@alice.smith"),
    ("mention", "@alice please review"),
    ("decorator", "@dataclass(frozen=True)"),
    ("no TLD", "admin@localhost"),
    ("package at version", "lodash@4.17.21"),
    ("retina asset", "![logo](img/logo@2x.png)"),
    ("JQL", 'project = ABC AND created >= "2026-01-01" AND priority in (1, 2) ORDER BY rank'),
    ("JQL relative date", "assignee = currentUser() AND status changed after -14d"),
    ("markdown", "## Release 2.3.0\n- [x] 14 bugs fixed\n- [ ] 3 left\n> quote 42"),
    # --- short codes and plain numbers ------------------------------------------------------
    ("emergency number", "Call 911 or 112"),
    ("SMS short code", "Text STOP to 55555"),
    ("number list", "values: 10 20 30 40 50"),
    ("powers of two", "for MiB in 16 32 64 128; do"),
    ("arithmetic with a large constant", "hi = data.readUInt32LE(8) + 4294967296 * lo"),
    ("byte dump", "Prints: <Buffer 01 02 03 04 05>"),
    ("US ZIP+4", "Boston, MA 02110-1301, USA"),
    ("reference code 4-4-4", "voucher 1234-5678-9012"),
    ("opening hours", "Mon-Fri 0900-1700"),
    ("thousands with spaces", "revenue 1 234 567 890"),
    ("coordinates", "52.520008, 13.404954"),
    # --- near misses for cards and IBANs ----------------------------------------------------
    ("16 digits failing Luhn", "4111 1111 1111 1112"),
    ("16 digits, unknown issuer", "1234 5678 9012 3456"),
    ("Luhn-valid zeros", "0000 0000 0000 0000"),
    ("card number glued into a longer run", "94111111111111111"),
    ("card number with a letter glued", "x4111111111111111"),
    ("card-like with mixed separators", "4111 1111-1111 1111"),
    ("IBAN with bad checksum", "GB82 WEST 1234 5698 7654 33"),
    ("hex digest of a DE IBAN's length that passes mod-97", "de27a4c123b1612dd272d1"),
    ("hex digest of a BE IBAN's length that passes mod-97", "commit be90371c17149d43"),
    ("IBAN with zero check digits", "DE00 3704 0044 0532 0130 00"),
    ("IBAN with wrong length", "DE89 3704 0044 0532 0130 0"),
    # --- money ------------------------------------------------------------------------------
    ("price", "EUR 1,234.56"),
    ("price with spaces", "$ 12 345 678.90"),
    ("price, European style", "1 234 567,89 EUR"),
    ("large count", "Processed 1,234,567,890 rows in 4.2 s"),
    ("price that starts like a card", "USD 4,111.11"),
    # --- near misses in other scripts and encodings (issue #11) ----------------------------
    ("Arabic-Indic date", "\u0662\u0660\u0662\u0666-\u0661\u0661-\u0662\u0667"),
    ("Devanagari date", "\u0968\u0966\u0968\u096c-\u0967\u0967-\u0968\u096d"),
    ("full-width Japanese date", "\uff12\uff10\uff12\uff16\u5e74\uff11\uff11\u6708\uff12\uff17\u65e5"),
    ("Japanese date", "2026\u5e7411\u670827\u65e5 10\u664230\u5206"),
    ("Thai year", "\u0e1e.\u0e28. \u0e52\u0e55\u0e56\u0e59"),
    ("Arabic-Indic time", "\u0661\u0660:\u0663\u0660"),
    ("Devanagari version", "\u0938\u0902\u0938\u094d\u0915\u0930\u0923 \u0968.\u0967\u096a.\u0966"),
    ("full-width version", "\uff56\uff12\uff0e\uff11\uff14\uff0e\uff10"),
    ("issue key", "SIM-123"),
    ("issue key with a non-breaking hyphen", "SIM\u2011123"),
    ("issue keys in Cyrillic-looking letters", "\u0412\u0415\u0422-1234 and \u0410\u0412\u0421-99"),
    ("Cyrillic order line", "\u0417\u0430\u043a\u0430\u0437 \u2116 12345 \u043e\u0442 27.11.2026"),
    ("Japanese postal code", "\u3012100-0001 \u6771\u4eac\u90fd"),
    ("full-width ISBN", "ISBN \uff19\uff17\uff18-\uff13-\uff11\uff16-\uff11\uff14\uff18\uff14\uff11\uff10-\uff10"),
    ("price with a no-break space", "1\u00a0234,56\u00a0\u20ac"),
    ("price with a narrow no-break space", "12\u202f345\u202f678 \u20bd"),
    ("time with a narrow no-break space", "10:30\u202fAM on 11/27/2026"),
    ("superscripts", "x\u00b2 + y\u00b2 = 25"),
    ("fraction", "\u00bd cup, 2\u00bc hours"),
    ("circled numbers", "\u2460 \u2461 \u2462 steps"),
    ("full-width mention", "\uff20alice please review"),
    ("mention with a zero-width space", "@\u200balice"),
    ("upper-case SHA-1", "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"),
    ("upper-case SHA-256", "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"),
    ("upper-case 23 hex", "5B10AC8D82E05B22CC7D4EF"),
    ("upper-case 24 hex without digits", "DEADBEEFCAFEBABEFACADEAB"),
    ("upper-case UUID", "F58131CB-B67D-43C7-B30D-6B58D40BD077"),
    ("short hex digest", "build a1b2c3d4e5f6"),
    ("URL with an encoded query", "https://example.com/search?q=caf%C3%A9&page=2"),
    ("URL with an encoded path", "https://example.com/wiki/Caf%C3%A9_2026"),
    ("URL with escaped ampersands", "https://example.com/a?x=1&amp;y=2&amp;z=2026"),
    ("encoded spaces in a path", "/files/annual%20report%202026.pdf"),
    ("percent sign in prose", "100% done, 50%ABC off"),
    ("printf format", "%d items in %s at %5.2f"),
    ("HTML text", "Tom &amp; Jerry &ndash; 2026-11-27"),
    ("copyright line", "&copy; 2026 Example Ltd &middot; v1.2.3"),
    ("number as character references", "&#52;&#50; is the answer"),
    ("percent-encoded number", "%34%32 is the answer"),
    ("retina asset, percent-encoded at sign", "img/logo%402x.png"),
    ("no TLD, encoded at sign", "admin%40localhost"),
    ("package at version, full-width at sign", "lodash\uff204.17.21"),
    ("dotted numbers, not a card", "2026.11.27.1030 and 192.168.100.200"),
    ("float with many decimals", "pi = 3.1415926535897932"),
    ("Luhn-invalid card with dots", "4111.1111.1111.1112"),
    ("IBAN with dashes, bad checksum", "DE88-3704-0044-0532-0130-00"),
    ("IBAN with mixed separators", "DE89 3704-0044.0532 0130 00"),
    ("quoted word before an at mention", '"hello"@alice'),
    ("empty quoted local part", '""@example.com'),
    ("address literal that is no address", "alice@[not-an-ip]"),
]


# --- respellings ------------------------------------------------------------------------------

_BASES: list[tuple[str, str, PiiKind]] = [
    ("address", "alice.smith@example.com", EMAIL),
    ("tagged address", "bob+digest@mail.example.org", EMAIL),
    ("E.164 phone", "+44 20 7946 0958", PHONE),
    ("NANP phone", "+1 202-555-0143", PHONE),
    ("national phone", "020 7946 0958", PHONE),
    ("grouped card", "4111 1111 1111 1111", CARD),
    ("dashed card", "5555-5555-5555-4444", CARD),
    ("contiguous card", "378282246310005", CARD),
    ("printed IBAN", "DE89 3704 0044 0532 0130 00", IBAN),
    ("printed IBAN with letters", "GB82 WEST 1234 5698 7654 32", IBAN),
    ("electronic IBAN", "FR1420041010050500013M02606", IBAN),
    ("legacy accountId", "5b10ac8d82e05b22cc7d4ef5", ACCOUNT),
    ("prefixed accountId", "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077", ACCOUNT),
    ("qm accountId", "qm:a713c8ea-1075-4e30-9d96-891a7d181739:5ad6d3581db05e2a66fa80b", ACCOUNT),
]


def _in_the_middle(insert: str) -> Callable[[str], str]:
    return lambda text: text[: len(text) // 2] + insert + text[len(text) // 2 :]


def _digits_from(zero: int) -> Callable[[str], str]:
    return lambda text: "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


def _every_character(encode: Callable[[str], str]) -> Callable[[str], str]:
    return lambda text: "".join(encode(c) for c in text)


_LATIN_TO_CYRILLIC = str.maketrans("aeopcxyABEKMHOPCTX", "аеорсхуАВЕКМНОРСТХ")
_LATIN_TO_GREEK = str.maketrans("oABEZHIKMNOPTYX", "οΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")

# (name, respelling, applies to values that contain one of these characters; "" for every value)
_RESPELLINGS: list[tuple[str, Callable[[str], str], str]] = [
    ("zero-width space", _in_the_middle("\u200b"), ""),
    ("zero-width joiner", _in_the_middle("\u200d"), ""),
    ("word joiner", _in_the_middle("\u2060"), ""),
    ("byte order mark", _in_the_middle("\ufeff"), ""),
    ("soft hyphen", _in_the_middle("\u00ad"), ""),
    ("Cyrillic look-alikes", lambda text: text.translate(_LATIN_TO_CYRILLIC), "aeopcxyABEKMHOPCTX"),
    ("Greek look-alikes", lambda text: text.translate(_LATIN_TO_GREEK), "oABEZHIKMNOPTYX"),
    ("no-break spaces", lambda text: text.replace(" ", "\u00a0"), " "),
    ("narrow no-break spaces", lambda text: text.replace(" ", "\u202f"), " "),
    ("ideographic spaces", lambda text: text.replace(" ", "\u3000"), " "),
    ("en dashes", lambda text: text.replace("-", "\u2013"), "-"),
    ("minus signs", lambda text: text.replace("-", "\u2212"), "-"),
    ("Arabic-Indic digits", _digits_from(0x0660), "0123456789"),
    ("Extended Arabic-Indic digits", _digits_from(0x06F0), "0123456789"),
    ("Devanagari digits", _digits_from(0x0966), "0123456789"),
    ("Bengali digits", _digits_from(0x09E6), "0123456789"),
    ("Thai digits", _digits_from(0x0E50), "0123456789"),
    ("mathematical monospace digits", _digits_from(0x1D7F6), "0123456789"),
    ("full-width forms", _every_character(lambda c: chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c), ""),
    ("percent-encoded throughout", _every_character(lambda c: "".join(f"%{b:02X}" for b in c.encode())), ""),
    ("percent-encoded as a query value", lambda text: quote(text, safe=""), ""),
    ("percent-encoded twice", lambda text: quote(quote(text, safe=""), safe=""), "@:+ "),
    ("decimal character references", _every_character(lambda c: f"&#{ord(c)};"), ""),
    ("hexadecimal character references", _every_character(lambda c: f"&#x{ord(c):x};"), ""),
    ("HTML-escaped once more", lambda text: html.escape(f"&#{ord(text[0])};{text[1:]}"), ""),
    ("upper case", str.upper, "abcdef"),
]

EVASIONS: list[tuple[str, str, PiiKind]] = [
    (f"{base} / {name}", respell(text), kind)
    for base, text, kind in _BASES
    for name, respell, needs in _RESPELLINGS
    if (not needs or any(c in text for c in needs)) and respell(text) != text
]

TRUE_POSITIVES += EVASIONS
