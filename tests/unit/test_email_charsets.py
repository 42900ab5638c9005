"""Decoding mail text: declared charsets read as their supersets, wrong declarations caught, headers decoded."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.email.charsets import decode_bytes, decode_header_value

KOREAN = "주문하신 상품 배송 문의드립니다"
# Syllables outside KS X 1001 that Korean Windows writes in CP949 and still labels "euc-kr".
CP949_ONLY = "똠방각하 햏 뷁"


def b_word(text: str, charset: str, codec: str | None = None) -> bytes:
    return b"=?" + charset.encode() + b"?B?" + base64.b64encode(text.encode(codec or charset)) + b"?="


def test_korean_subject_in_ks_c_5601_encoded_word():
    # Given an Outlook subject labelled ks_c_5601-1987 (which means CP949)
    raw = b_word(KOREAN, "ks_c_5601-1987", "cp949")

    # When it is decoded
    subject = decode_header_value(raw)

    # Then the Korean text comes back whole
    assert subject == KOREAN


def test_encoded_words_split_in_the_middle_of_a_character_are_joined_before_decoding():
    # Given a subject whose EUC-KR bytes are cut into 5-byte encoded-words, splitting two-byte characters
    data = KOREAN.encode("cp949")
    raw = b" ".join(b"=?euc-kr?b?" + base64.b64encode(data[i : i + 5]) + b"?=" for i in range(0, len(data), 5))

    # When it is decoded
    subject = decode_header_value(raw)

    # Then the characters are whole again
    assert subject == KOREAN


def test_adjacent_lowercase_q_words_without_spaces_and_plain_text_around_them():
    # Given quoted-printable words glued together (no whitespace between), with text before and after
    data = KOREAN.encode("utf-8")
    words = b"".join(
        b"=?UTF-8?q?" + b"".join(b"=%02X" % byte for byte in data[i : i + 7]) + b"?=" for i in range(0, len(data), 7)
    )

    # When the header is decoded
    subject = decode_header_value(b"RE: " + words + b" [#123]")

    # Then the words join up and the plain text keeps its spacing
    assert subject == f"RE: {KOREAN} [#123]"


def test_raw_euc_kr_bytes_in_a_header_as_the_stdlib_parser_keeps_them():
    # Given an old client's subject: EUC-KR bytes with no encoding, kept by the parser as surrogate escapes
    kept_by_parser = ("RE: " + KOREAN).encode("cp949").decode("ascii", "surrogateescape")

    # When it is decoded
    subject = decode_header_value(kept_by_parser)

    # Then the Korean text is recovered
    assert subject == "RE: " + KOREAN


def test_raw_utf8_bytes_in_a_header():
    # Given a header with UTF-8 bytes and no encoding (SMTPUTF8 clients)
    raw = "문의: 환불 요청".encode()

    # When it is decoded
    subject = decode_header_value(raw)

    # Then it reads as UTF-8
    assert subject == "문의: 환불 요청"


def test_unknown_charset_in_an_encoded_word_falls_back_to_what_the_bytes_are():
    # Given an encoded-word in a charset nobody knows, carrying UTF-8 bytes
    raw = b_word(KOREAN, "x-unknown", "utf-8")

    # When it is decoded
    subject = decode_header_value(raw)

    # Then the text is still right
    assert subject == KOREAN


def test_folded_header_is_unfolded():
    # Given a long subject folded across lines between encoded-words
    raw = b_word("배송 ", "utf-8") + b"\r\n " + b_word("문의", "utf-8") + b"\r\n\tplain tail"

    # When it is decoded
    subject = decode_header_value(raw)

    # Then folding whitespace between encoded-words disappears and no line break remains
    assert subject == "배송 문의\tplain tail"


@pytest.mark.parametrize(
    ("declared", "text", "codec"),
    [
        ("euc-kr", CP949_ONLY, "cp949"),
        ("ks_c_5601-1987", CP949_ONLY, "cp949"),
        ("x-windows-949", CP949_ONLY, "cp949"),
        ("iso-2022-kr", KOREAN, "iso2022_kr"),
        ("ISO-2022-JP", "お問い合わせありがとうございます", "iso2022_jp"),
        ("iso-2022-jp", "ｶﾀｶﾅの注文", "iso2022_jp_ext"),
        ("shift_jis", "①番の商品について", "cp932"),
        ("gb2312", "关于订单镕的问题", "gbk"),
        ("x-gbk", "关于订单镕的问题", "gbk"),
        ("big5", "嘅訂單問題", "big5hkscs"),
        ("iso-8859-1", "Prix: 20 € — merci", "cp1252"),
        ("windows-1252", "Prix: 20 € — merci", "cp1252"),
        ("utf-8", KOREAN, "utf-8"),
    ],
)
def test_declared_charsets_are_read_as_their_supersets(declared, text, codec):
    # Given text written in the wide codec and labelled with the (narrower) name clients use
    data = text.encode(codec)

    # When it is decoded with its declared charset
    decoded, problem = decode_bytes(data, declared)

    # Then it decodes exactly, and nothing is reported
    assert (decoded, problem) == (text, None)


def test_utf8_declared_over_euc_kr_bytes_is_decoded_right_and_flagged():
    # Given a body declared UTF-8 whose bytes are EUC-KR
    data = KOREAN.encode("cp949")

    # When it is decoded
    decoded, problem = decode_bytes(data, "utf-8")

    # Then the text is right, and the problem names the charsets but quotes no content
    assert decoded == KOREAN
    assert problem == "declared 'utf-8', not valid in it; decoded as cp949"


def test_euc_kr_declared_over_utf8_bytes_is_decoded_as_utf8():
    # Given a body declared EUC-KR whose bytes are UTF-8
    data = KOREAN.encode("utf-8")

    # When it is decoded
    decoded, problem = decode_bytes(data, "euc-kr")

    # Then UTF-8 wins and the mismatch is reported
    assert decoded == KOREAN
    assert problem == "declared 'euc-kr', not valid in it; decoded as utf-8"


def test_latin1_label_on_korean_text_is_caught_but_real_latin_text_stays_latin():
    # Given an old Korean client labelling EUC-KR as iso-8859-1, and real Latin-1 text with the same label
    korean, korean_problem = decode_bytes(KOREAN.encode("cp949"), "iso-8859-1")
    latin, latin_problem = decode_bytes("Größe: café, crème brûlée".encode("latin-1"), "iso-8859-1")

    # Then the Korean is read as CP949 (and flagged), the Latin text as Latin
    assert (korean, korean_problem) == (KOREAN, "declared 'iso-8859-1', but the text is cp949; decoded as cp949")
    assert (latin, latin_problem) == ("Größe: café, crème brûlée", None)


def test_unknown_charset_is_guessed_and_flagged():
    # Given a body in a charset name that does not exist
    decoded, problem = decode_bytes(KOREAN.encode("cp949"), "x-user-defined-korean")

    # Then UTF-8 fails, CP949 is tried, and the unknown label is reported
    assert decoded == KOREAN
    assert problem == "declared unknown charset 'x-user-defined-korean'; decoded as cp949"


def test_python_codecs_that_are_not_charsets_are_refused():
    # Given a sender naming one of Python's escape codecs as the charset
    decoded, problem = decode_bytes(b"\\x41\\u0042", "unicode_escape")

    # Then the bytes are read as text, not interpreted as escapes
    assert decoded == "\\x41\\u0042"
    assert problem is not None and problem.startswith("declared unknown charset")


def test_bytes_valid_in_nothing_are_decoded_with_replacement_and_flagged():
    # Given bytes that are neither UTF-8 nor CP949
    decoded, problem = decode_bytes(b"ok \xff\xfe\xff end", "utf-8")

    # Then the readable text survives and the replacement is reported
    assert decoded.startswith("ok ") and decoded.endswith(" end") and "\ufffd" in decoded
    assert problem == "declared 'utf-8', not valid in it; decoded with replacement"


def test_undeclared_ascii_is_not_a_problem_but_undeclared_8bit_is():
    # Given text without a charset, once plain ASCII and once 8-bit
    ascii_text = decode_bytes(b"Hello", None)
    korean_text = decode_bytes(KOREAN.encode("cp949"), None)

    # Then ASCII is simply read; 8-bit is guessed and flagged
    assert ascii_text == ("Hello", None)
    assert korean_text == (KOREAN, "no charset declared for 8-bit text; decoded as cp949")


@given(data=st.binary(max_size=300), declared=st.one_of(st.none(), st.text(max_size=30), st.sampled_from(
    ["utf-8", "euc-kr", "iso-2022-kr", "iso-2022-jp", "shift_jis", "gb2312", "big5", "utf-16", "utf-7", "latin1"]
)))  # fmt: skip
def test_decode_bytes_never_raises_and_returns_storable_text(data, declared):
    # When any bytes are decoded under any label
    text, problem = decode_bytes(data, declared)

    # Then the result is valid Unicode (no lone surrogates) and the problem, if any, is short
    text.encode("utf-8")
    assert problem is None or len(problem) < 200


@given(raw=st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_decode_header_value_never_raises_and_returns_one_line(raw):
    # When any header value is decoded
    value = decode_header_value(raw)

    # Then it is one line of valid text
    assert "\n" not in value and "\r" not in value
    value.encode("utf-8")
