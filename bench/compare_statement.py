"""Time to compare two ~35 KB statement versions that differ by a handful of edits, and to render the comparison as
the compare page's document (mean of 20 runs each).

Run: PYTHONPATH=src .venv/bin/python bench/compare_statement.py
"""

from __future__ import annotations

import random
import statistics
import time

from pledge.statement.compare import compare
from pledge.statement.compare_page import render_document

TARGET_BYTES = 35_000
RUNS = 20

TOPICS = [
    "Data residency",
    "Encryption",
    "Subprocessors",
    "Retention",
    "Access control",
    "Logging",
    "Backups",
    "Incident response",
    "Deletion",
    "Support access",
    "Analytics",
    "Email",
]
SENTENCES = [
    "We store {thing} in {region} and never move it elsewhere without notice.",
    "{thing} is encrypted at rest with AES-256 and in transit with TLS 1.2 or later.",
    "We keep {thing} for {days} days, after which it is deleted from every copy.",
    "Only the on-call engineer can read {thing}, and every access is logged.",
    "We share {thing} with [our subprocessors](https://example.com/subprocessors) only to run the app.",
    "You can ask us to export or delete {thing} at privacy@example.com.",
    "We do **not** sell {thing} or use it to train models.",
    "Backups of {thing} are kept in `{region}` for {days} days.",
]
THINGS = ["page content", "user account IDs", "audit logs", "issue titles", "tenant settings", "email addresses"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "eu-central-1"]


def statement(rng: random.Random) -> str:
    parts: list[str] = ["# Data Security & Privacy Statement\n"]
    section = 0
    while sum(len(p) + 1 for p in parts) < TARGET_BYTES:
        section += 1
        parts.append(f"## {section}. {rng.choice(TOPICS)}\n")
        for _ in range(rng.randint(2, 4)):
            sentences = [
                rng.choice(SENTENCES).format(
                    thing=rng.choice(THINGS), region=rng.choice(REGIONS), days=rng.choice([30, 90, 365])
                )
                for _ in range(rng.randint(2, 5))
            ]
            parts.append(" ".join(sentences) + "\n")
        parts.append("\n".join(f"- {rng.choice(THINGS)}: {rng.choice(REGIONS)}" for _ in range(3)) + "\n")
    return "\n".join(parts)


def replace_after(text: str, fraction: float, old: str, new: str) -> str:
    """Replace the first ``old`` found after ``fraction`` of the way through ``text``."""
    at = text.index(old, int(len(text) * fraction))
    return text[:at] + new + text[at + len(old) :]


def edit(old: str) -> str:
    """A handful of edits of the kinds a release makes: a region, a retention period, a new paragraph,
    a removed sentence, emphasis added, a bullet changed."""
    new = replace_after(old, 0.2, "us-east-1", "eu-north-1")
    new = replace_after(new, 0.4, "30 days", "14 days")
    new = replace_after(
        new, 0.5, "\n\n", "\n\nWe now also process **billing contacts**, kept for 365 days in eu-central-1.\n\n"
    )
    removed = new.index("We do **not** sell", int(len(new) * 0.7))
    new = new[:removed] + new[new.index(". ", removed) + 2 :]
    new = replace_after(new, 0.8, "encrypted at rest", "**encrypted at rest**")
    return replace_after(new, 0.9, "\n- ", "\n* ")


def main() -> None:
    rng = random.Random(20260101)
    old = statement(rng)
    new = edit(old)
    comparison = compare(old, new)  # warm-up, and a check that the edits show
    timings: list[float] = []
    for _ in range(RUNS):
        start = time.perf_counter()
        compare(old, new)
        timings.append(time.perf_counter() - start)
    mean = statistics.fmean(timings)
    print(
        f"compare(): {len(old.encode()):,} B vs {len(new.encode()):,} B, "
        f"+{comparison.added_words} -{comparison.removed_words} words, "
        f"{comparison.format_changes} format changes"
    )
    print(
        f"mean {mean * 1000:.1f} ms over {RUNS} runs "
        f"(min {min(timings) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms)"
    )
    rendering: list[float] = []
    for _ in range(RUNS):
        start = time.perf_counter()
        document = render_document(comparison)
        rendering.append(time.perf_counter() - start)
    print(
        f"render_document(): {len(document.html.encode()):,} B of HTML, {len(document.changes)} changes listed, "
        f"mean {statistics.fmean(rendering) * 1000:.1f} ms "
        f"(min {min(rendering) * 1000:.1f} ms, max {max(rendering) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
