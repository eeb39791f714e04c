"""A comparison rendered as the statement itself, for the "Versions Compared" page.

The new version is rendered as a document (headings, lists, tables, bold), with what was added, removed or
reformatted marked where it happened, each unchanged section collapsed, and every change numbered so a list of
changes can link to it.

How it works: the segments of the comparison are joined into one Markdown text, the new version with the removed
words put back where they were (their emphasis and link markup dropped, so they cannot unbalance the new
version's), and every stretch of changed content wrapped in private-use characters that say which kind of change
it is and, on the first stretch of each change, its number. Markup stays outside the wrapping, so headings, list
items and table cells parse as they do in the new version. markdown-it parses that text, and the renderer turns
the private-use characters into ``<ins>``, ``<del>`` and ``<span class="format-changed">``, closing and reopening
them around emphasis, code and links so that the tags always nest. The characters are removed from the versions
first, so a statement cannot forge a mark; in a link address, the removed words are dropped and the marks stripped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final
from urllib.parse import quote

from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from markupsafe import Markup, escape

from pledge.statement.compare import ChangeKind, Comparison, Layout, Segment, layout
from pledge.statement.render import MARKDOWN

__all__ = ["Change", "ComparedDocument", "render_document"]

_OPEN: Final[Mapping[ChangeKind, str]] = MappingProxyType(
    {ChangeKind.ADDED: "\ue000", ChangeKind.REMOVED: "\ue001", ChangeKind.FORMAT: "\ue002"}
)
_CLOSE: Final = "\ue003"
_NUMBER_START, _NUMBER_END = "\ue004", "\ue005"
_KIND_OF: Final[Mapping[str, ChangeKind]] = MappingProxyType({char: kind for kind, char in _OPEN.items()})
_MARKS: Final = "".join((*_OPEN.values(), _CLOSE, _NUMBER_START, _NUMBER_END))
_MARK_RE: Final = re.compile(
    f"([{''.join(_OPEN.values())}])(?:{_NUMBER_START}(\\d+){_NUMBER_END})?|{_CLOSE}|{_NUMBER_START}\\d*{_NUMBER_END}"
)
_ANY_MARK_RE: Final = re.compile(f"[{_MARKS}]")
_REMOVED_RE: Final = re.compile(f"{_OPEN[ChangeKind.REMOVED]}.*?{_CLOSE}", re.DOTALL)
# The same marks as a link address carries them once markdown-it has percent-encoded it.
_ENCODED_REMOVED_RE: Final = re.compile(f"{quote(_OPEN[ChangeKind.REMOVED])}.*?{quote(_CLOSE)}")
_ENCODED_NUMBER_RE: Final = re.compile(f"{quote(_NUMBER_START)}\\d*{quote(_NUMBER_END)}")
_ENCODED_MARK_RE: Final = re.compile("|".join(re.escape(quote(char)) for char in _MARKS))
_TAGS: Final[Mapping[ChangeKind, tuple[str, str]]] = MappingProxyType(
    {
        ChangeKind.ADDED: ('<ins class="added"', "</ins>"),
        ChangeKind.REMOVED: ('<del class="removed"', "</del>"),
        ChangeKind.FORMAT: ('<span class="format-changed"', "</span>"),
    }
)
_DROPPED_WHEN_REMOVED: Final[Mapping[str, str]] = MappingProxyType({"](": " ("})
"""Inline markup of removed words, replaced (by default with nothing) so that they show as words."""
_EXCERPT_CHARACTERS: Final = 80


@dataclass(frozen=True)
class Change:
    """One change: a run of added, removed and reformatted text with no unchanged words in between."""

    number: int
    removed: str
    """The removed words as plain text (shortened), empty when nothing was removed."""
    added: str
    """The added or reformatted words as plain text (shortened)."""
    reformatted: bool
    section: str
    """The title of the section it is in (empty before the first section)."""
    anchored: bool
    """Whether the document marks it (a change the text does not show, in a link address or a code block, is only
    listed)."""

    @property
    def anchor(self) -> str:
        return f"change-{self.number}"

    @property
    def label(self) -> str:
        if self.reformatted and not self.removed:
            return "Formatting changed"
        if self.removed and self.added:
            return "Changed"
        return "Removed" if self.removed else "Added"


@dataclass(frozen=True)
class ComparedDocument:
    html: Markup
    changes: tuple[Change, ...]


@dataclass
class _Excerpt:
    removed: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    reformatted: bool = False


def _clean(text: str) -> str:
    """The text with the mark characters replaced, so a statement cannot forge a change mark."""
    return _ANY_MARK_RE.sub("\ufffd", text)


def _plain(text: str) -> str:
    """The words of Markdown ``text`` on one line, markup dropped."""
    words = "".join(
        part if kind is Layout.CONTENT or not part.strip() else _DROPPED_WHEN_REMOVED.get(part, "")
        for kind, part in layout(_clean(text))
        if kind is not Layout.STRUCTURE or not part.strip()
    )
    return " ".join(words.split())


def _shorten(text: str) -> str:
    return text if len(text) <= _EXCERPT_CHARACTERS else text[: _EXCERPT_CHARACTERS - 1].rstrip() + "…"


def _at_line_start(merged: Sequence[str]) -> bool:
    """Whether text appended to ``merged`` would begin a line (after nothing but indentation)."""
    for part in reversed(merged):
        if "\n" in part:
            return not part.rpartition("\n")[2].strip(" \t")
        if part.strip(" \t"):
            return False
    return True


def _marked(segment: Segment, *, line_start: bool, number: int | None) -> tuple[str, bool]:
    """A changed segment as Markdown with its content wrapped in marks; whether the number was placed."""
    text = _clean(segment.text)
    out: list[str] = []
    for kind, part in layout(text, line_start=line_start):
        if kind is Layout.CONTENT:
            label = f"{_NUMBER_START}{number}{_NUMBER_END}" if number is not None else ""
            out.append(f"{_OPEN[segment.kind]}{label}{part}{_CLOSE}")
            number = None
        elif kind is Layout.INLINE_MARKUP and segment.kind is ChangeKind.REMOVED:
            out.append(_DROPPED_WHEN_REMOVED.get(part, ""))
        else:
            out.append(part)
    return "".join(out), number is None


def _merge(comparison: Comparison) -> tuple[str, list[_Excerpt]]:
    """One Markdown text: the new version with removed words put back, changes marked and numbered from 1."""
    merged: list[str] = []
    excerpts: list[_Excerpt] = []
    pending: int | None = None  # the number of the current change until a stretch of it carries it
    previous = ChangeKind.SAME
    for segment in comparison.segments:
        if segment.kind is ChangeKind.SAME:
            merged.append(_clean(segment.text))
            previous = ChangeKind.SAME
            continue
        if previous is ChangeKind.SAME:
            excerpts.append(_Excerpt())
            pending = len(excerpts)
        previous = segment.kind
        excerpt = excerpts[-1]
        if segment.kind is ChangeKind.REMOVED:
            excerpt.removed.append(segment.text)
        else:
            excerpt.added.append(segment.text)
            excerpt.reformatted = excerpt.reformatted or segment.kind is ChangeKind.FORMAT
        text, placed = _marked(segment, line_start=_at_line_start(merged), number=pending)
        merged.append(text)
        if placed:
            pending = None
    return "".join(merged), excerpts


class _Renderer(RendererHTML):
    """markdown-it's HTML renderer turning the marks in text into change tags that nest with the markup."""

    def renderInline(self, tokens: Sequence[Token], options: OptionsDict, env: EnvType) -> str:
        env["open"] = None
        out: list[str] = []
        for index, token in enumerate(tokens):
            if token.type == "text":
                out.append(self._text(token.content, env))
            elif token.type == "code_inline":
                out.append(self._close(env))
                out.append(f"<code{self.renderAttrs(token)}>")
                out.append(self._reopen(env))
                out.append(self._text(token.content, env))
                out.append(self._close(env))
                out.append("</code>")
                out.append(self._reopen(env))
            elif token.type in ("softbreak", "hardbreak"):
                out.append(self.rules[token.type](tokens, index, options, env))
            else:
                _clean_attributes(token)
                out.append(self._close(env))
                rule = self.rules.get(token.type)
                out.append(rule(tokens, index, options, env) if rule else self.renderToken(tokens, index, options, env))
                out.append(self._reopen(env))
        out.append(self._close(env))
        env["open"] = None
        return "".join(out)

    def _text(self, text: str, env: EnvType) -> str:
        out: list[str] = []
        position = 0
        for match in _MARK_RE.finditer(text):
            out.append(str(escape(text[position : match.start()])))
            position = match.end()
            opening = match.group(1)
            if opening is not None:
                out.append(self._close(env))
                env["open"] = _KIND_OF[opening]
                out.append(self._reopen(env, match.group(2)))
            elif match.group() == _CLOSE:
                out.append(self._close(env))
                env["open"] = None
        out.append(str(escape(text[position:])))
        return "".join(out)

    @staticmethod
    def _close(env: EnvType) -> str:
        kind: ChangeKind | None = env["open"]
        return _TAGS[kind][1] if kind is not None else ""

    @staticmethod
    def _reopen(env: EnvType, number: str | None = None) -> str:
        kind: ChangeKind | None = env["open"]
        if kind is None:
            return ""
        if number is None:
            return f"{_TAGS[kind][0]}>"
        env["anchored"][int(number)] = env["section"]
        return f'{_TAGS[kind][0]} id="change-{int(number)}">'


def _strip(text: str) -> str:
    return _ANY_MARK_RE.sub("", _MARK_RE.sub("", text))


def _clean_attributes(token: Token) -> None:
    """Link addresses and titles without the marks, removed words dropped (they were the old address).

    A mark before ``javascript:`` hid it from markdown-it's link check, so an address is checked again without
    its marks, and dropped if it fails.
    """
    for name, value in list(token.attrs.items()):
        text = _ENCODED_MARK_RE.sub("", _ENCODED_NUMBER_RE.sub("", _ENCODED_REMOVED_RE.sub("", str(value))))
        text = _strip(_REMOVED_RE.sub("", text))
        if name in ("href", "src") and not MARKDOWN.validateLink(text):
            del token.attrs[name]
        else:
            token.attrs[name] = text


def _title(inline: Token) -> str:
    """A section's title as the new version has it: removed words dropped, marks and markup stripped."""
    return _plain(_strip(_REMOVED_RE.sub("", inline.content)))


def _sections(tokens: Sequence[Token]) -> Iterator[tuple[Token | None, list[Token]]]:
    """The tokens cut before each top-level ``##`` heading, each part with the heading's inline token."""
    heading: Token | None = None
    part: list[Token] = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h2" and token.level == 0:
            if part:
                yield heading, part
            heading, part = tokens[index + 1], []
        part.append(token)
    if part:
        yield heading, part


def render_document(comparison: Comparison) -> ComparedDocument:
    """The new version as HTML with its changes marked and numbered (``id="change-N"`` on the first mark of each),
    every ``##`` section without a change in a closed ``<details>``, and the list of changes."""
    markdown, excerpts = _merge(comparison)
    tokens = MARKDOWN.parse(markdown)
    renderer = _Renderer()
    env: EnvType = {"anchored": {}, "open": None, "section": ""}
    html: list[str] = []
    for number, (heading, part) in enumerate(_sections(tokens)):
        env["section"] = _title(heading) if heading is not None else ""
        changed = any(_ANY_MARK_RE.search(token.content) for token in part)
        if heading is None:
            html.append(renderer.render(part, MARKDOWN.options, env))
        elif changed:
            html.append(f'<section class="changed" id="section-{number}">')
            html.append(renderer.render(part, MARKDOWN.options, env))
            html.append("</section>\n")
        else:
            head = renderer.render(part[:3], MARKDOWN.options, env)  # heading_open, inline, heading_close
            html.append(f'<details class="unchanged" id="section-{number}">\n<summary>{head.strip()}')
            html.append(' <span class="unchanged-note">Unchanged</span></summary>\n')
            html.append(renderer.render(part[3:], MARKDOWN.options, env))
            html.append("</details>\n")
    anchored: dict[int, str] = env["anchored"]
    changes = tuple(
        Change(
            number=number,
            removed=_shorten(_plain("".join(excerpt.removed))),
            added=_shorten(_plain("".join(excerpt.added))),
            reformatted=excerpt.reformatted,
            section=anchored.get(number, ""),
            anchored=number in anchored,
        )
        for number, excerpt in enumerate(excerpts, start=1)
    )
    body = _strip("".join(html))  # marks where no rule of the renderer saw them (code blocks, image text)
    return ComparedDocument(Markup(body), changes)  # noqa: S704 - markdown-it escapes text and refuses raw HTML
