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
"""

from __future__ import annotations

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
    ("upper-case 24 hex", "5B10AC8D82E05B22CC7D4EF5"),
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
]
