"""HTML mail bodies: as plain text for threading and search, and as HTML safe to show in the agent UI.

Both work on html.parser events, which never fail on broken markup: mail HTML is written by every editor
since 1998 and by senders who want to run code in our agents' browsers.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

# Contents that are never text to a reader (head's title included: its text is not part of the message).
_INVISIBLE = frozenset({"script", "style", "title", "template", "xml", "iframe"})
_PARAGRAPH = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "dl", "pre", "hr", "blockquote", "figure"})
_LINE = frozenset(
    {
        "div", "tr", "li", "dt", "dd", "section", "article", "header", "footer", "address", "center", "caption",
        "nav", "aside", "main", "form", "fieldset", "figcaption", "details", "summary", "tbody", "thead", "tfoot",
    }
)  # fmt: skip
_LISTS = frozenset({"ul", "ol"})
_CELL = frozenset({"td", "th"})
_ASCII_SPACE = re.compile(r"[ \t\n\r\f]+")
# Work on hostile HTML stays linear: the input is cut to HTML_LIMIT characters (a mail's whole text is kept
# far shorter, and the raw mail keeps all), and what grows with nesting is bounded by OPEN_LIMIT: quote and
# list prefixes written per line, links that collect their text, the sanitizer's stack of open tags.
HTML_LIMIT = 1_000_000
OPEN_LIMIT = 100
_INVISIBLE_CHARS = str.maketrans({"\u200b": None, "\ufeff": None, "\u00ad": None, "\u00a0": " "})


def html_to_text(html: str) -> str:
    """The text a reader of `html` sees: one line per block, "- " for list items, "> " inside blockquotes,
    a link's address after its text when the two differ; scripts, styles and the title left out."""
    converter = _TextConverter()
    _feed(converter, _bounded(html))
    return converter.result()


class _TextConverter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._current: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._list_depth = 0
        self._pre = 0
        self._invisible = 0
        self._links: list[tuple[str | None, list[str]]] = []
        self._links_beyond_limit = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._invisible += 1
            return
        if tag in _PARAGRAPH or (tag in _LISTS and not self._list_depth):
            self._paragraph()
        elif tag in _LINE or tag in _LISTS:
            self._break_line()
        if tag == "br":
            self._break_line(keep_empty=True)
        elif tag == "li":
            self._write("  " * min(max(self._list_depth - 1, 0), OPEN_LIMIT) + "- ", raw=True)
        elif tag in _CELL:
            if self._current and not self._current[-1].endswith(" "):
                self._write(" ", raw=True)
        elif tag == "a":
            if len(self._links) < OPEN_LIMIT:
                self._links.append((dict(attrs).get("href"), []))
            else:
                self._links_beyond_limit += 1
        elif tag == "blockquote":
            self._quote_depth += 1
        elif tag in _LISTS:
            self._list_depth += 1
        elif tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "hr", "img", "a", "li") and tag not in _INVISIBLE:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._invisible = max(self._invisible - 1, 0)
            return
        if tag == "a" and self._links_beyond_limit:
            self._links_beyond_limit -= 1
        elif tag == "a" and self._links:
            href, words = self._links.pop()
            self._close_link(href, "".join(words))
        if tag == "blockquote":
            self._break_line()
            if self._lines and self._quote_depth and not self._lines[-1].strip("> "):
                self._lines.pop()  # the quote's own closing blank line belongs outside it
            self._quote_depth = max(self._quote_depth - 1, 0)
        elif tag in _LISTS:
            self._list_depth = max(self._list_depth - 1, 0)
        elif tag == "pre":
            self._pre = max(self._pre - 1, 0)
        if tag in _PARAGRAPH or (tag in _LISTS and not self._list_depth):
            self._paragraph()
        elif tag in _LINE or tag in _LISTS:
            self._break_line()

    def handle_data(self, data: str) -> None:
        if self._invisible:
            return
        data = data.translate(_INVISIBLE_CHARS)
        if self._pre:
            lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for index, line in enumerate(lines):
                if index:
                    self._break_line(keep_empty=True)
                self._write(line, raw=True)
            return
        self._write(_ASCII_SPACE.sub(" ", data))

    def _close_link(self, href: str | None, text: str) -> None:
        if not href:
            return
        target = href.strip()
        shown = target.removeprefix("mailto:")
        if not re.match(r"(?i)(https?|mailto):", target):
            return
        if _ASCII_SPACE.sub(" ", text).strip() in ("", shown, target):
            if not text.strip():
                self._write(shown)
            return
        self._write(f" ({shown})")

    def _write(self, text: str, raw: bool = False) -> None:
        if not text:
            return
        if not raw and not self._current_has_text() and text.startswith(" "):
            text = text.lstrip(" ")
        elif not raw and self._current and self._current[-1].endswith(" ") and text.startswith(" "):
            text = text[1:]
        if not text:
            return
        if not self._current:
            self._line_depth = self._quote_depth
        self._current.append(text)
        for _, words in self._links:
            words.append(text)

    def _current_has_text(self) -> bool:
        return any(part.strip() for part in self._current)

    def _break_line(self, keep_empty: bool = False) -> None:
        line = "".join(self._current).rstrip()
        self._current = []
        if not line and not keep_empty:
            return
        depth = min(self._line_depth if line else self._quote_depth, OPEN_LIMIT)
        self._lines.append(("> " * depth + line).rstrip())
        self._line_depth = self._quote_depth

    def _paragraph(self) -> None:
        self._break_line()
        if self._lines and self._lines[-1] != "" and self._lines[-1].strip("> ") != "":
            self._lines.append(">" * min(self._quote_depth, OPEN_LIMIT) if self._quote_depth else "")

    def result(self) -> str:
        self._break_line()
        text = "\n".join(self._lines)
        text = re.sub(r"\n{3,}", "\n\n", text)
        return text.strip("\n")


# Sanitizing: an allow-list. Anything not named here is unwrapped (its text stays, the tag goes), except
# the elements below whose contents are code, remote content or controls, which go entirely.
_DROP_WITH_CONTENT = frozenset(
    {
        "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button",
        "select", "textarea", "title", "template", "svg", "math", "audio", "video", "canvas", "noembed",
        "noframes", "xml",
    }
)  # fmt: skip
_VOID = frozenset(
    {"br", "hr", "img", "wbr", "col", "input", "link", "meta", "base", "area", "source", "param", "embed", "frame"}
    | {"track"}
)
_ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "address", "article", "b", "bdi", "bdo", "big", "blockquote", "br", "caption", "center",
        "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "figcaption", "figure",
        "font", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li",
        "mark", "ol", "p", "pre", "q", "s", "samp", "section", "small", "span", "strike", "strong", "sub", "sup",
        "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
    }
)  # fmt: skip
# No id/name/class: a mail must not clobber the UI's DOM ids or borrow its CSS classes.
_ALLOWED_ATTRIBUTES = frozenset(
    {
        "align", "alt", "border", "cellpadding", "cellspacing", "color", "cols", "colspan", "dir", "face",
        "height", "lang", "rowspan", "size", "span", "start", "summary", "title", "type", "valign", "width",
        "bgcolor", "style",
    }
)  # fmt: skip
_LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_STYLE_PROPERTIES = frozenset(
    {
        "color", "background-color", "font", "font-family", "font-size", "font-style", "font-weight",
        "font-variant", "text-align", "text-decoration", "text-indent", "text-transform", "letter-spacing",
        "word-spacing", "line-height", "vertical-align", "white-space", "word-break", "word-wrap",
        "overflow-wrap", "direction", "margin", "margin-top", "margin-right", "margin-bottom", "margin-left",
        "padding", "padding-top", "padding-right", "padding-bottom", "padding-left", "border", "border-top",
        "border-right", "border-bottom", "border-left", "border-color", "border-style", "border-width",
        "border-collapse", "border-spacing", "border-radius", "width", "height", "max-width", "min-width",
        "list-style-type", "table-layout",
    }
)  # fmt: skip
# Values: words, numbers, colours, quoted font names and rgb()/hsl() — no url(), expression(), escapes or comments.
_STYLE_VALUE = re.compile(r"""(?:[\w\s#.,%!'"+-]|(?:rgba?|hsla?)\([\d\s.,%/]*\))*""")
_CONTROL_AND_SPACE = re.compile(r"[\x00-\x20\x7f]+")


def sanitize_html(html: str) -> str:
    """`html` reduced to formatting that is safe to render in the agent UI.

    Kept: an allow-list of formatting tags and attributes, links to http(s)/mailto/tel (opened in a new tab,
    without referrer), inline images referenced by cid:. Removed: scripts, styles, frames, objects, forms
    and their contents; event handlers; javascript:, data: and relative URLs; every remote image (its alt
    text stays) and every other way of loading remote content, so opening a mail tells the sender nothing.
    Unclosed tags are closed, so a mail cannot spill its layout into the page around it.
    """
    sanitizer = _Sanitizer()
    _feed(sanitizer, _bounded(html))
    return sanitizer.result()


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._open: list[str] = []
        self._dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_WITH_CONTENT:
            if tag not in _VOID:
                self._dropping += 1
            return
        if self._dropping or tag not in _ALLOWED_TAGS:
            return
        kept = _safe_attributes(tag, attrs)
        if tag == "img" and not any(name == "src" for name, _ in kept):
            alt = dict(attrs).get("alt")
            if alt and alt.strip():
                self._out.append(escape(alt.strip(), quote=False))
            return
        if tag == "a" and any(name == "href" for name, _ in kept):
            kept += [("target", "_blank"), ("rel", "noopener noreferrer nofollow")]
        if tag not in _VOID and len(self._open) >= OPEN_LIMIT:
            return  # unwrapped: its text stays
        rendered = "".join(f' {name}="{escape(value, quote=True)}"' for name, value in kept)
        self._out.append(f"<{tag}{rendered}>")
        if tag not in _VOID:
            self._open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_WITH_CONTENT:
            return
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP_WITH_CONTENT:
            if tag not in _VOID:
                self._dropping = max(self._dropping - 1, 0)
            return
        if self._dropping or tag not in self._open:
            return
        while self._open:
            closing = self._open.pop()
            self._out.append(f"</{closing}>")
            if closing == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self._dropping:
            self._out.append(escape(data, quote=False))

    def result(self) -> str:
        closing = [f"</{tag}>" for tag in reversed(self._open)]
        self._open = []
        return "".join(self._out + closing)


def _safe_attributes(tag: str, attrs: list[tuple[str, str | None]]) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in attrs:
        if name in seen or value is None:
            continue
        if name in _ALLOWED_ATTRIBUTES:
            if name == "style":
                value = _safe_style(value)
                if not value:
                    continue
            kept.append((name, value))
        elif tag == "a" and name == "href":
            url = _CONTROL_AND_SPACE.sub("", value)
            scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
            if scheme and scheme.group(1).lower() in _LINK_SCHEMES:
                kept.append((name, url))
        elif tag == "img" and name == "src":
            url = _CONTROL_AND_SPACE.sub("", value)
            # cid: points at a part of this same mail; anything else is fetched from somewhere.
            if url[:4].lower() == "cid:" and len(url) > 4:
                kept.append((name, url))
        else:
            continue
        seen.add(name)
    return kept


def _safe_style(style: str) -> str:
    declarations = []
    for declaration in style.split(";"):
        prop, colon, value = declaration.partition(":")
        prop, value = prop.strip().lower(), value.strip()
        if colon and prop in _STYLE_PROPERTIES and value and _STYLE_VALUE.fullmatch(value):
            declarations.append(f"{prop}: {value}")
    return "; ".join(declarations)


def _bounded(html: str) -> str:
    """`html` cut to HTML_LIMIT, with each "<" after the last ">" written as text. Those can start no tag, and
    html.parser rescans the rest of the input from each of them before it gives up (quadratic)."""
    html = html[:HTML_LIMIT]
    last_close = html.rfind(">")
    tail = html[last_close + 1 :]
    if "<" in tail:
        html = html[: last_close + 1] + tail.replace("&", "&amp;").replace("<", "&lt;")
    return html


def _feed(parser: HTMLParser, html: str) -> None:
    # html.parser recovers from any markup; the guard is for its rare internal assertions on hostile input,
    # after which the events already seen still make a usable (and still safe) result.
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError, IndexError):
        return
