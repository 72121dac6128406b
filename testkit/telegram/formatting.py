"""Parse modes as Telegram applies them: HTML, MarkdownV2 and legacy Markdown to text + entities.

The rules follow tdlib's parsers closely enough to reject what Telegram rejects in practice
(unknown tags, unescaped reserved MarkdownV2 characters, unclosed entities), so a bot that
would get "can't parse entities" from Telegram gets it from the fake too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

JSONDict = dict[str, Any]


class EntityParseError(ValueError):
    """The text cannot be parsed in the requested parse mode."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


@dataclass
class _Open:
    kind: str
    start: int
    byte_offset: int
    extra: JSONDict = field(default_factory=dict)


@dataclass
class _Builder:
    parts: list[str] = field(default_factory=list)
    offset: int = 0
    entities: list[JSONDict] = field(default_factory=list)

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.offset += utf16_len(chunk)

    def close(self, opened: _Open) -> None:
        length = self.offset - opened.start
        if length > 0:
            entity: JSONDict = {"type": opened.kind, "offset": opened.start, "length": length}
            entity.update(opened.extra)
            self.entities.append(entity)

    def text(self) -> str:
        return "".join(self.parts)


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY = re.compile(r"&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot);")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_ATTR = re.compile(r"""\s*([a-zA-Z_-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""")


def _html_entity(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _HTML_NAMED:
        return _HTML_NAMED[name]
    code = int(name[2:], 16) if name.startswith("#x") else int(name[1:])
    return chr(code) if 0 < code < 0x110000 else match.group(0)


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram-flavoured HTML into plain text and entities."""
    out = _Builder()
    stack: list[_Open] = []
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "&":
            match = _HTML_ENTITY.match(source, i)
            # tdlib keeps an unrecognised "&" as a literal character.
            if match:
                out.add(_html_entity(match))
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = i
        if i + 1 < n and source[i + 1] == "/":
            end = source.find(">", i)
            if end == -1:
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(source, begin)}"
                )
            name = source[i + 2 : end].strip().lower()
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(source, begin)}"
                )
            opened = stack.pop()
            if name != opened.extra.get("_tag"):
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(source, begin)}, "
                    f'expected "</{opened.extra.get("_tag")}>", found "</{name}>"'
                )
            if opened.kind == "code" and "language" in opened.extra and stack[-1:]:
                # <pre><code class="language-x"> is one pre entity with a language.
                parent = stack[-1]
                if parent.kind == "pre":
                    parent.extra["language"] = opened.extra["language"]
                    i = end + 1
                    continue
            _close_html(out, opened)
            i = end + 1
            continue
        j = i + 1
        while j < n and not source[j].isspace() and source[j] not in "/>":
            j += 1
        if j >= n:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        name = source[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, begin)}'
            )
        end = source.find(">", j)
        if end == -1:
            raise EntityParseError(
                f"Unclosed start tag at byte offset {_byte_offset(source, begin)}"
            )
        # Attribute values may hold entities too (e.g. &amp; in a URL).
        attrs = {
            m.group(1).lower(): _HTML_ENTITY.sub(
                _html_entity, next((g for g in m.groups()[1:] if g is not None), "")
            )
            for m in _HTML_ATTR.finditer(source[j:end])
        }
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        extra: JSONDict = {"_tag": name}
        if name == "a":
            extra["url"] = attrs.get("href", "")
        elif name == "tg-emoji":
            extra["custom_emoji_id"] = attrs.get("emoji-id", "")
        elif name == "code" and attrs.get("class", "").startswith("language-"):
            extra["language"] = attrs["class"][len("language-") :]
        elif name == "blockquote" and "expandable" in source[j:end]:
            extra["_expandable"] = True
        stack.append(_Open(_HTML_TAGS[name], out.offset, _byte_offset(source, begin), extra))
        i = end + 1
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].extra.get("_tag")}"'
        )
    return out.text(), sorted(out.entities, key=lambda e: (e["offset"], -e["length"]))


def _close_html(out: _Builder, opened: _Open) -> None:
    extra = {k: v for k, v in opened.extra.items() if not k.startswith("_")}
    kind = opened.kind
    if kind == "text_link" and not extra.get("url"):
        return
    if kind == "blockquote" and opened.extra.get("_expandable"):
        kind = "expandable_blockquote"
    if kind == "code":
        extra.pop("language", None)
    out.close(_Open(kind, opened.start, opened.byte_offset, extra))


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def parse_markdown_v2(source: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2 into plain text and entities, rejecting unescaped reserved characters."""
    out = _Builder()
    stack: list[_Open] = []
    i = 0
    n = len(source)
    at_line_start = True
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and 0 < ord(source[i + 1]) <= 126:
            out.add(source[i + 1])
            i += 2
            at_line_start = False
            continue
        top = stack[-1] if stack else None
        in_code = top is not None and top.kind in ("code", "pre")
        if char not in _MDV2_RESERVED or (in_code and char != "`"):
            out.add(char)
            at_line_start = char == "\n"
            i += 1
            continue
        begin = _byte_offset(source, i)
        if char == "`":
            if source.startswith("```", i):
                i += 3
                if top is not None and top.kind == "pre":
                    out.close(stack.pop())
                else:
                    newline = source.find("\n", i)
                    extra: JSONDict = {}
                    if newline != -1 and source[i:newline].strip() and " " not in source[i:newline]:
                        extra["language"] = source[i:newline]
                        i = newline + 1
                    stack.append(_Open("pre", out.offset, begin, extra))
            else:
                i += 1
                if top is not None and top.kind == "code":
                    out.close(stack.pop())
                else:
                    stack.append(_Open("code", out.offset, begin))
            at_line_start = False
            continue
        if char == ">" and at_line_start:
            i += 1
            continue
        at_line_start = False
        kind: str | None = None
        width = 1
        if char == "*":
            kind = "bold"
        elif char == "_":
            if source.startswith("__", i) and not (top is not None and top.kind == "italic"):
                kind, width = "underline", 2
            else:
                kind = "italic"
        elif char == "~":
            kind = "strikethrough"
        elif char == "|" and source.startswith("||", i):
            kind, width = "spoiler", 2
        elif char == "[" or (char == "!" and source.startswith("![", i)):
            link_kind = "custom_emoji" if char == "!" else "text_link"
            stack.append(_Open(link_kind, out.offset, begin))
            i += 2 if char == "!" else 1
            continue
        elif char == "]" and top is not None and top.kind in ("text_link", "custom_emoji"):
            if not source.startswith("(", i + 1):
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[top.kind]} entity at byte offset "
                    f"{top.byte_offset}"
                )
            url, i = _read_mdv2_url(source, i + 2, top)
            opened = stack.pop()
            if opened.kind == "custom_emoji":
                opened.extra["custom_emoji_id"] = url.rsplit("id=", 1)[-1]
            else:
                opened.extra["url"] = url
            out.close(opened)
            continue
        if kind is None:
            raise EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        if any(o.kind == kind for o in stack):
            if top is None or top.kind != kind:
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[top.kind if top else kind]} entity at "
                    f"byte offset {top.byte_offset if top else begin}"
                )
            out.close(stack.pop())
        else:
            stack.append(_Open(kind, out.offset, begin))
        i += width
    if stack:
        opened = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[opened.kind]} entity at byte offset "
            f"{opened.byte_offset}"
        )
    return out.text(), sorted(out.entities, key=lambda e: (e["offset"], -e["length"]))


def _read_mdv2_url(source: str, start: int, opened: _Open) -> tuple[str, int]:
    chars: list[str] = []
    i = start
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source):
            chars.append(source[i + 1])
            i += 2
            continue
        if char == ")":
            return "".join(chars), i + 1
        chars.append(char)
        i += 1
    raise EntityParseError(f"Can't find end of a URL at byte offset {opened.byte_offset}")


_LEGACY_MARKS = {"*": "bold", "_": "italic", "`": "code"}


def parse_markdown(source: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown (bold, italic, code, pre, links) into text and entities."""
    out = _Builder()
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in "_*`[":
            out.add(source[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        begin = _byte_offset(source, i)
        if source.startswith("```", i):
            end = source.find("```", i + 3)
            if end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {begin}"
                )
            opened = _Open("pre", out.offset, begin)
            out.add(source[i + 3 : end])
            out.close(opened)
            i = end + 3
            continue
        if char == "[":
            close = source.find("](", i)
            end = source.find(")", close + 2) if close != -1 else -1
            if close == -1 or end == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {begin}"
                )
            opened = _Open("text_link", out.offset, begin, {"url": source[close + 2 : end]})
            out.add(source[i + 1 : close])
            out.close(opened)
            i = end + 1
            continue
        end = source.find(char, i + 1)
        if end == -1:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        opened = _Open(_LEGACY_MARKS[char], out.offset, begin)
        out.add(source[i + 1 : end])
        out.close(opened)
        i = end + 1
    return out.text(), out.entities


def strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace as Telegram does, moving entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    moved: list[JSONDict] = []
    for entity in entities:
        start = max(0, int(entity["offset"]) - lead)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead, total)
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return stripped, moved


def apply_parse_mode(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    """Text and entities for `text` sent with `parse_mode` (None: plain text)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise EntityParseError(f"Unsupported parse_mode {parse_mode!r}")
