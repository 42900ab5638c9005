"""HTML mail bodies as text (for threading and search) and as sanitized HTML (for the agent UI)."""

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from switchboard.email.html_text import html_to_text, sanitize_html

NEWSLETTER_HEAD = """<html><head><title>주문 확인 메일</title><meta charset="utf-8">
<style>p { color: red }</style><script>track()</script></head><body>"""


def test_text_keeps_korean_and_drops_head_script_and_style():
    # Given a Korean order mail with a title, a style sheet and a script
    html = NEWSLETTER_HEAD + "<p>안녕하세요,&nbsp;고객님.</p><p>주문이   접수되었습니다.</p></body></html>"

    # When it is turned into text
    text = html_to_text(html)

    # Then only what a reader sees remains, paragraphs a blank line apart, spaces collapsed
    assert text == "안녕하세요, 고객님.\n\n주문이 접수되었습니다."


def test_text_lines_lists_links_tables_and_entities():
    # Given the usual building blocks of a support mail
    html = (
        "<div>주문 <b>#1234</b> &amp; 배송<br>감사합니다</div>"
        "<ul><li>상품 A</li><li>상품 B<ul><li>옵션: 빨강</li></ul></li></ul>"
        '<a href="https://shop.example.com/orders/1234">주문 보기</a> '
        '<a href="https://shop.example.com/">https://shop.example.com/</a> '
        '<a href="mailto:help@shop.example.com">help@shop.example.com</a>'
        "<table><tr><td>수량</td><td>2</td></tr><tr><td>합계</td><td>&#8361;10,000</td></tr></table>"
    )

    # When it is turned into text
    text = html_to_text(html)

    # Then blocks are lines, list items dashes, a link's address follows its text only when it adds something
    assert text == (
        "주문 #1234 & 배송\n감사합니다\n\n"
        "- 상품 A\n- 상품 B\n  - 옵션: 빨강\n\n"
        "주문 보기 (https://shop.example.com/orders/1234) https://shop.example.com/ help@shop.example.com\n\n"
        "수량 2\n합계 ₩10,000"
    )


def test_blockquote_becomes_a_quote_the_reply_splitter_recognises():
    # Given an HTML-only reply quoting the previous mail in a blockquote (Gmail, Naver)
    html = "<div>확인했습니다.</div><div>2025년 6월 9일 (월) 오전 10:05, 고객센터 님이 작성:</div>"
    html += "<blockquote><div>주문번호를 알려주세요.<br>감사합니다.</div></blockquote>"

    # When it is turned into text
    text = html_to_text(html)

    # Then the quoted lines start with "> "
    assert text.splitlines()[-2:] == ["> 주문번호를 알려주세요.", "> 감사합니다."]


def test_preformatted_text_keeps_its_spacing():
    # Given a pasted log in <pre>
    text = html_to_text("<p>로그:</p><pre>ERROR  code=42\n  at step 3</pre>")

    # Then its spaces and lines survive
    assert text == "로그:\n\nERROR  code=42\n  at step 3"


def test_sanitize_removes_scripts_handlers_and_dangerous_urls():
    # Given HTML written to run code in an agent's browser
    html = (
        '<p onclick="steal()">안녕하세요</p><script>steal()</script>'
        '<a href=" java&#x09;script:alert(1)">클릭</a><a href="data:text/html,x">데이터</a>'
        '<a href="/admin/delete">상대경로</a><a href="https://ok.example.com/" onmouseover="x()">정상</a>'
    )

    # When it is sanitized
    safe = sanitize_html(html)

    # Then text and a safe link survive; code, handlers and unsafe URLs do not
    assert safe == (
        "<p>안녕하세요</p><a>클릭</a><a>데이터</a><a>상대경로</a>"
        '<a href="https://ok.example.com/" target="_blank" rel="noopener noreferrer nofollow">정상</a>'
    )


def test_sanitize_drops_remote_images_keeps_inline_cid_images():
    # Given a tracking pixel, a remote logo and an inline image from the same mail
    html = (
        '<img src="https://tracker.example.com/open.gif" width="1">'
        '<img src="https://cdn.example.com/logo.png" alt="쇼핑몰 로고">'
        '<img src="CID:image001.png@01D9" alt="" width="300" onerror="x()">'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">'
    )

    # When it is sanitized
    safe = sanitize_html(html)

    # Then no image loads from anywhere but the mail itself; a dropped image leaves its alt text
    assert safe == '쇼핑몰 로고<img src="CID:image001.png@01D9" alt="" width="300">'


def test_sanitize_drops_embedded_content_forms_and_document_level_tags():
    # Given frames, objects, a phishing form and tags that would change the whole page
    html = (
        NEWSLETTER_HEAD
        + '<base href="https://evil.example/"><link rel="stylesheet" href="https://evil.example/x.css">'
        + '<iframe src="https://evil.example/"><p>frame fallback</p></iframe>'
        + '<object data="x.swf"><embed src="x.swf"></object>'
        + '<form action="https://evil.example/login">비밀번호 <input name="pw"><button>확인</button></form>'
        + "<p>본문</p></body></html>"
    )

    # When it is sanitized
    safe = sanitize_html(html)

    # Then only the body text is left
    assert safe.strip() == "<p>본문</p>"


def test_sanitize_keeps_harmless_style_and_strips_remote_css():
    # Given inline styles, one with a background image and one with an expression
    html = (
        "<div style=\"color: #333; font-family: 'Malgun Gothic', sans-serif; background: url(https://t.example/b)\">"
        '가</div><span style="width: expression(alert(1)); position: fixed; top: 0">나</span>'
    )

    # When it is sanitized
    safe = sanitize_html(html)

    # Then the formatting stays and anything that loads, computes or overlays is gone
    assert safe == (
        '<div style="color: #333; font-family: &#x27;Malgun Gothic&#x27;, sans-serif">가</div><span>나</span>'
    )


def test_sanitize_closes_what_the_mail_left_open_and_escapes_text():
    # Given a mail that leaves a table open and writes markup-looking text as entities
    safe = sanitize_html("<table><tr><td>&lt;script&gt; 1 &lt; 2 &amp; 3")

    # Then the table is closed and the text stays text
    assert safe == "<table><tr><td>&lt;script&gt; 1 &lt; 2 &amp; 3</td></tr></table>"


_HTML_PIECES = st.sampled_from(
    [
        "<script>", "</script>", "<style>", "<p>", "</p>", "<a href='javascript:x()'>", "<a href=https://a.b/>",
        "</a>", "<img src=https://t/x.gif onerror=x()>", "<img src=cid:a>", "<iframe>", "</iframe>", "<div ",
        "onload=x()", ">", "<", "\"", "'", "<!--", "-->", "<![CDATA[", "]]>", "<svg><script>x()</script></svg>",
        "&lt;", "&#x6a;avascript:", "<table>", "<td style='background:url(x)'>", "<meta http-equiv=refresh>",
        "주문", " ", "\n", "<base href=//evil>", "</", "<form>", "<textarea>", "</textarea>", "<!doctype html>",
    ]
)  # fmt: skip


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)


@given(pieces=st.lists(st.one_of(_HTML_PIECES, st.text(max_size=10)), max_size=40))
def test_sanitized_output_never_carries_code_or_remote_content(pieces):
    # Given any soup of hostile and broken markup
    html = "".join(pieces)

    # When it is sanitized and the output is parsed again
    collector = _Collector()
    collector.feed(sanitize_html(html))
    collector.close()

    # Then no dangerous element, handler or URL survives
    assert not {"script", "style", "iframe", "svg", "form", "textarea", "meta", "base", "link"} & set(collector.tags)
    for name, value in collector.attributes:
        assert not name.startswith("on")
        if name == "src":
            assert value is not None and value.lower().startswith("cid:")
        if name == "href":
            assert value is not None and value.lower().startswith(("http:", "https:", "mailto:", "tel:"))
        if name == "style":
            assert "url" not in (value or "").lower() and "(" not in (value or "").replace("rgb(", "")


@given(html=st.one_of(st.text(max_size=300), st.lists(_HTML_PIECES, max_size=40).map("".join)))
def test_html_to_text_never_raises(html):
    # When any text is converted
    text = html_to_text(html)

    # Then the result is text without surrounding blank lines
    assert text == text.strip("\n")
