"""Two versions of the statement compared word by word, for the "Versions Compared" page and the terminal.

(The page renders the comparison as a document: :mod:`pledge.statement.compare_page`.)

How it works:

* Both Markdown texts are cut into tokens: words (``us-east-1``, ``privacy@example.com``, URLs), runs of
  whitespace, single punctuation marks, and Markdown markup (``**``, ``_``, backticks, ``[``, ``](``,
  heading ``#``, list bullets and numbers, ``>``, table pipes and rules), so markup never sticks to a word.
  A link's URL counts as words (a new link target is content); so does punctuation. List numbers count as
  markup, so renumbering a list is a format change.
* Each distinct token becomes one character and diff-match-patch diffs those strings (its documented
  line-mode trick, applied to words). ``diff_cleanupSemantic`` runs on the token strings *before* mapping
  back, with the sideways alignment step scored on the real tokens, so no edit ever splits a word: a
  character-level cleanup would turn "us" -> "use" into an unchanged "us" and an added "e".
* A removed run and an added run with the same plain words (markup dropped, whitespace ignored) are one
  FORMAT segment, not a removal and an addition. Markup-only edits are widened so the reader sees which
  words changed format: a pair of matching inline markers in one paragraph (``**`` before and ``**`` after
  some words) becomes one FORMAT segment covering the words between; any other markup-only edit (a
  heading ``#``, a bullet, a lone marker) takes in the rest of its line.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from diff_match_patch import diff_match_patch
from rich.text import Text

__all__ = [
    "KEY",
    "TERMINAL_STYLES",
    "ChangeKind",
    "Comparison",
    "Layout",
    "Segment",
    "compare",
    "layout",
    "render_terminal",
]


class ChangeKind(enum.StrEnum):
    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"
    FORMAT = "format"
    """The same words with different markup or whitespace."""


KEY: Final[tuple[tuple[ChangeKind, str], ...]] = (
    (ChangeKind.ADDED, "This line was added."),
    (ChangeKind.REMOVED, "This line was removed."),
    (ChangeKind.FORMAT, "Formatting was changed."),
)
"""The legend shown with a comparison, in display order."""

TERMINAL_STYLES: Final[Mapping[ChangeKind, str]] = MappingProxyType(
    {
        ChangeKind.ADDED: "green underline",
        ChangeKind.REMOVED: "red strike",
        ChangeKind.FORMAT: "yellow",
    }
)
"""The rich style of each kind of change, for ``render_terminal`` and for printing ``KEY`` to match."""


@dataclass(frozen=True)
class Segment:
    """A stretch of the comparison. ``text`` is old text for REMOVED, new text for every other kind.

    ``old_text`` is only set for FORMAT: the same words as the old version marked them up.
    """

    kind: ChangeKind
    text: str
    old_text: str = ""


@dataclass(frozen=True)
class Comparison:
    segments: tuple[Segment, ...]

    @property
    def added_words(self) -> int:
        return sum(_count_words(s.text) for s in self.segments if s.kind is ChangeKind.ADDED)

    @property
    def removed_words(self) -> int:
        return sum(_count_words(s.text) for s in self.segments if s.kind is ChangeKind.REMOVED)

    @property
    def format_changes(self) -> int:
        return sum(1 for s in self.segments if s.kind is ChangeKind.FORMAT)

    @property
    def has_changes(self) -> bool:
        return any(s.kind is not ChangeKind.SAME for s in self.segments)

    @property
    def old_markdown(self) -> str:
        """The old version, rebuilt from the segments."""
        kept = (s for s in self.segments if s.kind is not ChangeKind.ADDED)
        return "".join(s.old_text if s.kind is ChangeKind.FORMAT else s.text for s in kept)

    @property
    def new_markdown(self) -> str:
        """The new version, rebuilt from the segments."""
        return "".join(s.text for s in self.segments if s.kind is not ChangeKind.REMOVED)


# --- tokens -------------------------------------------------------------------------------------------


class _Tok(enum.Enum):
    WORD = enum.auto()  # has letters or digits: counted, compared
    PUNCT = enum.auto()  # other visible text: compared
    SPACE = enum.auto()  # ignored when deciding FORMAT
    INLINE = enum.auto()  # emphasis, code and link markup: ignored when deciding FORMAT, pairs up
    BLOCK = enum.auto()  # heading, list, quote and table markup: ignored when deciding FORMAT


_Token = tuple[str, _Tok]

_TOKEN_RE: Final = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<url>(?:https?://|mailto:)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'"*_~`])
    | (?P<escape>\\[!-/:-@\[-`{-~])
    | (?P<word>[^\W_]+(?:(?:_+|[-'’.:/@+&])[^\W_]+)*)
    | (?P<block>\||:?-{3,}:?|={3,})
    | (?P<inline>\*+|_+|~+|`+|!\[|\]\(|[\[\]])
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
# Markup that only means something at the start of a line (after indentation or other such markup).
_LINE_START_RE: Final = re.compile(r"\#{1,6}(?=\s|\Z)|>|[-+*](?=\s)|\d{1,9}[.)](?=\s)|[-*_=]{3,}(?=[ \t]*(?:\n|\Z))")
_KIND_OF_GROUP: Final[Mapping[str, _Tok]] = MappingProxyType(
    {
        "space": _Tok.SPACE,
        "url": _Tok.WORD,
        "escape": _Tok.PUNCT,
        "word": _Tok.WORD,
        "block": _Tok.BLOCK,
        "inline": _Tok.INLINE,
        "other": _Tok.PUNCT,
    }
)
_CONTENT: Final = frozenset({_Tok.WORD, _Tok.PUNCT})
_MARKUP: Final = frozenset({_Tok.INLINE, _Tok.BLOCK})
_PARAGRAPH_BREAK_RE: Final = re.compile(r"\n[ \t\r\f\v]*\n\s*")


def _tokenise(text: str, *, line_start: bool = True) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    while pos < end:
        if line_start and (block := _LINE_START_RE.match(text, pos)):
            tokens.append((block.group(), _Tok.BLOCK))
            pos = block.end()
            line_start = not block.group().startswith("#")  # "> - item", but "# 1. Scope" is a heading
            continue
        match = _TOKEN_RE.match(text, pos)
        assert match is not None and match.lastgroup is not None  # "other" matches any character
        kind = _KIND_OF_GROUP[match.lastgroup]
        token = match.group()
        tokens.append((token, kind))
        line_start = (line_start or "\n" in token) if kind is _Tok.SPACE else False
        pos = match.end()
    return tokens


def _plain(tokens: Iterable[_Token]) -> list[str]:
    return [text for text, kind in tokens if kind in _CONTENT]


def _has_content(text: str) -> bool:
    return any(kind in _CONTENT for _, kind in _tokenise(text))


def _count_words(text: str) -> int:
    return sum(1 for _, kind in _tokenise(text) if kind is _Tok.WORD)


# --- diff ---------------------------------------------------------------------------------------------

_EQUAL, _DELETE, _INSERT = 0, -1, 1
_Diff = tuple[int, str]
_DIFF_TIMEOUT_SECONDS: Final = 1.0  # diff-match-patch's default: past it, a coarser (still exact) diff
_LAST_CODE_POINT: Final = 0x10FFFF


def _encode(tokens: Sequence[_Token], codes: dict[str, str], vocabulary: list[str]) -> str:
    chars: list[str] = []
    for text, _ in tokens:
        char = codes.get(text)
        if char is None:
            if len(vocabulary) > _LAST_CODE_POINT:
                raise ValueError("the statements have too many distinct words to compare")
            char = chr(len(vocabulary))
            vocabulary.append(text)
            codes[text] = char
        chars.append(char)
    return "".join(chars)


def _boundary_score(left: str, right: str) -> int:
    """diff-match-patch's semantic score of the boundary between two tokens, 0 (mid-word) to 5 (blank line)."""
    left_space, right_space = left.isspace(), right.isspace()
    if (left_space and left.count("\n") > 1) or (right_space and right.count("\n") > 1):
        return 5
    if (left_space and "\n" in left) or (right_space and "\n" in right):
        return 4
    end, start = left[-1], right[0]
    if not left_space and not end.isalnum() and right_space:
        return 3
    if left_space or right_space:
        return 2
    if not end.isalnum() or not start.isalnum():
        return 1
    return 0


def _common_suffix_length(a: str, b: str) -> int:
    n = 0
    limit = min(len(a), len(b))
    while n < limit and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _align_edits(diffs: list[_Diff], vocabulary: Sequence[str]) -> None:
    """``diff_cleanupSemanticLossless`` on token strings, scoring boundaries by the tokens they stand for.

    Slides each single edit between two equalities sideways to the best boundary; on a tie the later one,
    so an added paragraph is "text and its blank line", not "a blank line and text".
    """

    def score(left: str, right: str) -> int:
        if not left or not right:
            return 6
        return _boundary_score(vocabulary[ord(left[-1])], vocabulary[ord(right[0])])

    pointer = 1
    while pointer < len(diffs) - 1:
        if diffs[pointer - 1][0] == _EQUAL and diffs[pointer + 1][0] == _EQUAL:
            equality1, edit, equality2 = diffs[pointer - 1][1], diffs[pointer][1], diffs[pointer + 1][1]
            common = _common_suffix_length(equality1, edit)
            if common:
                moved = edit[-common:]
                equality1, edit, equality2 = equality1[:-common], moved + edit[:-common], moved + equality2
            best = (equality1, edit, equality2)
            best_score = score(equality1, edit) + score(edit, equality2)
            while edit and equality2 and edit[0] == equality2[0]:
                equality1, edit, equality2 = equality1 + edit[0], edit[1:] + equality2[0], equality2[1:]
                candidate = score(equality1, edit) + score(edit, equality2)
                if candidate >= best_score:
                    best, best_score = (equality1, edit, equality2), candidate
            if diffs[pointer - 1][1] != best[0]:
                if best[0]:
                    diffs[pointer - 1] = (_EQUAL, best[0])
                else:
                    del diffs[pointer - 1]
                    pointer -= 1
                diffs[pointer] = (diffs[pointer][0], best[1])
                if best[2]:
                    diffs[pointer + 1] = (_EQUAL, best[2])
                else:
                    del diffs[pointer + 1]
                    pointer -= 1
        pointer += 1


class _TokenDiffer(diff_match_patch):  # type: ignore[misc]  # the library has no types
    """diff-match-patch on token strings: its semantic cleanup slides edits by the tokens' boundaries."""

    def __init__(self, vocabulary: Sequence[str]) -> None:
        super().__init__()
        self.Diff_Timeout = _DIFF_TIMEOUT_SECONDS
        self._vocabulary = vocabulary

    def diff_cleanupSemanticLossless(self, diffs: list[_Diff]) -> None:
        # diff_cleanupSemantic calls this on its own instance: the character-based original would split tokens.
        _align_edits(diffs, self._vocabulary)


def _token_diff(old: Sequence[_Token], new: Sequence[_Token]) -> list[_Diff]:
    """A semantically cleaned diff of two token sequences, each character of each text standing for a token."""
    vocabulary = [""]  # like diff_linesToChars: no token is "\x00"
    codes: dict[str, str] = {}
    old_chars = _encode(old, codes, vocabulary)
    new_chars = _encode(new, codes, vocabulary)
    dmp = _TokenDiffer(vocabulary)
    diffs: list[_Diff] = dmp.diff_main(old_chars, new_chars, False)
    dmp.diff_cleanupSemantic(diffs)
    return diffs


# --- segments -----------------------------------------------------------------------------------------


@dataclass
class _Piece:
    """A run of the diff on its way to becoming segments; kind None is a content change."""

    kind: ChangeKind | None
    old: str
    new: str
    markup: str = ""  # FORMAT only: the markup that was added or removed
    inline: bool = False  # FORMAT only: all that markup is inline (emphasis, code, link brackets)
    wordless: bool = False  # FORMAT only: no words inside yet


def _pieces(diffs: Sequence[_Diff], old: Sequence[_Token], new: Sequence[_Token]) -> Iterator[_Piece]:
    i = j = 0
    removed: list[_Token] = []
    added: list[_Token] = []

    def change() -> _Piece:
        old_text, new_text = "".join(t for t, _ in removed), "".join(t for t, _ in added)
        new_plain = _plain(added)
        if _plain(removed) != new_plain:
            return _Piece(None, old_text, new_text)
        markup = [token for token in (*removed, *added) if token[1] in _MARKUP]
        return _Piece(
            ChangeKind.FORMAT,
            old_text,
            new_text,
            markup="".join(t for t, _ in markup),
            inline=all(kind is _Tok.INLINE for _, kind in markup),
            wordless=not new_plain,
        )

    for op, chars in diffs:
        n = len(chars)
        if op == _EQUAL:
            if removed or added:
                yield change()
                removed, added = [], []
            text = "".join(t for t, _ in new[j : j + n])
            yield _Piece(ChangeKind.SAME, text, text)
            i, j = i + n, j + n
        elif op == _DELETE:
            removed.extend(old[i : i + n])
            i += n
        else:
            added.extend(new[j : j + n])
            j += n
    if removed or added:
        yield change()


def _is_lone_markup(piece: _Piece) -> bool:
    return piece.kind is ChangeKind.FORMAT and piece.wordless and bool(piece.markup)


def _pair_inline_markup(pieces: list[_Piece]) -> None:
    """Merge an inline marker edit with the next matching one in its paragraph, and the words between."""
    i = 0
    while i < len(pieces):
        opener = pieces[i]
        if _is_lone_markup(opener) and opener.inline:
            for j in range(i + 1, len(pieces)):
                piece = pieces[j]
                if piece.kind is ChangeKind.SAME:
                    if _PARAGRAPH_BREAK_RE.search(piece.new):
                        break
                elif piece.kind is None:
                    break
                elif _is_lone_markup(piece) and piece.inline and piece.markup == opener.markup:
                    span = pieces[i : j + 1]
                    pieces[i : j + 1] = [
                        _Piece(ChangeKind.FORMAT, "".join(p.old for p in span), "".join(p.new for p in span))
                    ]
                    break
        i += 1


def _widen_lone_markup(pieces: list[_Piece]) -> None:
    """Let a markup-only edit take in the unchanged rest of its line (or, failing that, the start of it)."""
    for i, piece in enumerate(pieces):
        if not _is_lone_markup(piece):
            continue
        after = pieces[i + 1] if i + 1 < len(pieces) else None
        if after is not None and after.kind is ChangeKind.SAME:
            line, newline, rest = after.new.partition("\n")
            if _has_content(line):
                piece.old, piece.new = piece.old + line, piece.new + line
                after.old = after.new = newline + rest
                piece.wordless = False
                continue
        before = pieces[i - 1] if i > 0 else None
        if before is not None and before.kind is ChangeKind.SAME:
            start, newline, line = before.new.rpartition("\n")
            if _has_content(line):
                piece.old, piece.new = line + piece.old, line + piece.new
                before.old = before.new = start + newline
                piece.wordless = False


def _segments(pieces: Iterable[_Piece]) -> Iterator[Segment]:
    pending: Segment | None = None
    for piece in pieces:
        if piece.kind is None:
            parts = [Segment(ChangeKind.REMOVED, piece.old), Segment(ChangeKind.ADDED, piece.new)]
        elif piece.kind is ChangeKind.FORMAT:
            parts = [Segment(ChangeKind.FORMAT, piece.new, piece.old)]
        else:
            parts = [Segment(piece.kind, piece.new)]
        for part in parts:
            if not part.text and not part.old_text:
                continue
            if pending is not None and pending.kind is part.kind:
                pending = Segment(part.kind, pending.text + part.text, pending.old_text + part.old_text)
                continue
            if pending is not None:
                yield pending
            pending = part
    if pending is not None:
        yield pending


def compare(old_markdown: str, new_markdown: str) -> Comparison:
    """Compare two versions of the statement word by word."""
    old_tokens, new_tokens = _tokenise(old_markdown), _tokenise(new_markdown)
    pieces = list(_pieces(_token_diff(old_tokens, new_tokens), old_tokens, new_tokens))
    _pair_inline_markup(pieces)
    _widen_lone_markup(pieces)
    return Comparison(tuple(_segments(pieces)))


# --- layout -------------------------------------------------------------------------------------------


class Layout(enum.Enum):
    """What a stretch of Markdown is, for a renderer that marks changes without breaking the markup."""

    CONTENT = enum.auto()
    """Words and punctuation, with the spaces between them on one line: the text a reader sees."""
    INLINE_MARKUP = enum.auto()
    """Emphasis, code and link markup."""
    STRUCTURE = enum.auto()
    """Heading, list, quote and table markup, line breaks and the spaces around content."""


def layout(text: str, *, line_start: bool = True) -> Iterator[tuple[Layout, str]]:
    """``text`` cut into stretches of content, inline markup and structure, in order; their concatenation is
    ``text``. ``line_start``: whether ``text`` begins a line, where ``#``, ``-`` and ``1.`` are markup."""
    run: list[str] = []
    spaces = ""  # spaces after the run, kept out of it until more content follows

    def flush() -> Iterator[tuple[Layout, str]]:
        nonlocal spaces
        if run:
            yield Layout.CONTENT, "".join(run)
            run.clear()
        if spaces:
            yield Layout.STRUCTURE, spaces
            spaces = ""

    for token, kind in _tokenise(text, line_start=line_start):
        if kind in _CONTENT:
            if run and spaces:
                run.append(spaces)
                spaces = ""
            elif spaces:
                yield from flush()
            run.append(token)
        elif kind is _Tok.SPACE and "\n" not in token:
            spaces += token
        else:
            yield from flush()
            yield (Layout.INLINE_MARKUP if kind is _Tok.INLINE else Layout.STRUCTURE), token
    yield from flush()


# --- terminal -----------------------------------------------------------------------------------------


def render_terminal(comparison: Comparison) -> Text:
    """The comparison for a terminal: added green and underlined, removed red and struck out, format yellow."""
    text = Text()
    for segment in comparison.segments:
        text.append(segment.text, style=TERMINAL_STYLES.get(segment.kind, ""))
    return text
