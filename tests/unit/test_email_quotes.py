"""split_reply: what the customer newly wrote, apart from the quoted mail and signature below it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard.email.quotes import split_reply

ANSWER = "네, 주소는 맞습니다. 경비실에 맡겨 주셔도 됩니다."
QUOTED_ANSWER = "> 안녕하세요 김민준 고객님,\n>\n> 배송지 주소가 맞는지 확인 부탁드립니다.\n"


def assert_split(text: str, new: str) -> None:
    got_new, rest = split_reply(text)
    assert got_new == new
    assert got_new + rest == text


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, Jun 9, 2025 at 10:12 AM Shop Support <support@shop.example> wrote:",
        "On Jun 9, 2025, at 10:12, Shop Support <support@shop.example> wrote:",
        "2025년 6월 9일 (월) 오전 10:12, Shop Support <support@shop.example>님이 작성:",
        "2025. 6. 9. 오전 10:12, Shop Support <support@shop.example> 작성:",
        "2025年6月9日(月) 10:12 Shop Support <support@shop.example> のメッセージ:",
        '在 2025-06-09 10:12:00，"Shop Support" <support@shop.example> 写道：',
        "Am 09.06.25 um 10:12 schrieb Shop Support:",
        "Le 09/06/2025 à 10:12, Shop Support a écrit :",
    ],
    ids=["gmail", "apple", "gmail-ko", "apple-ko", "japanese", "chinese", "german", "french"],
)
def test_attribution_line_and_quote_are_cut(attribution):
    # Given a reply above a quote introduced the way the customer's client and language write it
    text = f"{ANSWER}\n\n{attribution}\n{QUOTED_ANSWER}"
    # Then only the answer is new
    assert_split(text, ANSWER)


def test_gmail_attribution_wrapped_over_two_lines():
    # Given Gmail's plain text, which wraps a long attribution before "wrote:"
    text = f"{ANSWER}\n\nOn Mon, Jun 9, 2025 at 10:12 AM Shop Support <support@shop.example>\nwrote:\n\n{QUOTED_ANSWER}"
    assert_split(text, ANSWER)


def test_attribution_wrapped_inside_the_address():
    text = f"{ANSWER}\n\nOn Mon, Jun 9, 2025 at 10:12 AM Shop Support <\nsupport@shop.example> wrote:\n{QUOTED_ANSWER}"
    assert_split(text, ANSWER)


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "-----원본 메시지-----",
        "----- 원본 메일 -----",
        "-----Message d'origine-----",
        "---------- 원본 메일 ----------",
        "--------- Original Message ---------",
        "-------- 원본 메시지 --------",
    ],
)
def test_original_message_separators(separator):
    # Given Outlook, Naver, Daum/Kakao or Samsung separating the quoted mail with a marker line
    text = f"{ANSWER}\n\n{separator}\nFrom: Shop Support <support@shop.example>\nSent: Monday, June 9, 2025 10:12 AM\n\n본문"
    assert_split(text, ANSWER)


def test_outlook_header_block_without_separator():
    # Given Outlook desktop's reply: the quoted mail starts with its From/Sent/To/Subject block
    text = (
        f"{ANSWER}\r\n\r\nFrom: Shop Support <support@shop.example> \r\nSent: Monday, June 9, 2025 10:12 AM\r\n"
        "To: 김민준 <minjun.kim@gmail.com>\r\nSubject: RE: 배송 문의\r\n\r\n안녕하세요 고객님"
    )
    assert_split(text, ANSWER)


def test_korean_outlook_block_under_underscore_line():
    # Given Korean Outlook's reply: a line of underscores, then 보낸 사람/보낸 날짜/받는 사람/제목
    text = (
        f"{ANSWER}\n\n________________________________\n보낸 사람: Shop 고객지원 <support@shop.example>\n"
        "보낸 날짜: 2025년 6월 9일 월요일 오전 10:12\n받는 사람: 김민준 <minjun.kim@gmail.com>\n제목: RE: 배송 문의\n\n안녕하세요"
    )
    assert_split(text, ANSWER)


def test_naver_quote_with_korean_labels():
    text = (
        f'{ANSWER}\n\n-----Original Message-----\n보낸사람: "Shop 고객지원" <support@shop.example>\n'
        "받는사람: <gildong.hong@naver.com>\n날짜: 2025-06-09 (월) 10:12:00\n제목: 환불 안내\n\n환불 접수되었습니다."
    )
    assert_split(text, ANSWER)


def test_outlook_web_block_rendered_from_html_with_bold_labels():
    # Given OWA's HTML quote header rendered to text, labels still wrapped in emphasis marks
    text = f"{ANSWER}\n\n*From:* Shop Support <support@shop.example>\n*Sent:* Monday, June 9, 2025\n*To:* 김민준\n*Subject:* RE: 배송"
    assert_split(text, ANSWER)


def test_a_from_line_in_the_customers_own_text_is_not_a_quote():
    # Given a customer who starts a line with "From:" in their own words
    text = "From: 서울 물류센터에서 출고되었다고 나옵니다.\n그런데 아직 도착하지 않았어요."
    # Then nothing is cut
    assert_split(text, text)


@pytest.mark.parametrize(
    "signature",
    [
        "Sent from my iPhone",
        "Sent from my Galaxy",
        "Galaxy에서 보냄",
        "iPhone에서 보냄",
        "Samsung Galaxy 스마트폰에서 보냈습니다.",
        "-- ",
    ],
)
def test_mobile_and_rfc3676_signatures(signature):
    # Given a reply followed by the client's signature (and possibly its quote)
    text = f"{ANSWER}\n\n{signature}\n김민준 | 010-0000-0000\n"
    assert_split(text, ANSWER)


def test_interleaved_reply_keeps_the_answers_between_the_quotes():
    # Given a customer who answered inside the quoted mail, question by question
    text = (
        "On Mon, Jun 9, 2025 at 10:12 AM Shop Support <support@shop.example> wrote:\n"
        "> 1. 받으실 주소가 맞나요?\n"
        "네, 맞습니다.\n\n"
        "> 2. 경비실에 맡겨도 될까요?\n"
        "네, 괜찮습니다.\n"
    )
    # Then all of it is the customer's reply
    assert_split(text, text.rstrip())


def test_interleaved_reply_drops_only_the_trailing_quote_and_signature():
    # Given answers between quoted questions, then a signature and the rest of the quoted mail
    text = "> 받으실 주소가 맞나요?\n네, 맞습니다.\n\n-- \n김민준\n\n> 감사합니다.\n> Shop 고객지원팀\n"
    assert_split(text, "> 받으실 주소가 맞나요?\n네, 맞습니다.")


def test_bottom_quote_without_attribution_is_cut():
    text = f"{ANSWER}\n\n{QUOTED_ANSWER}"
    assert_split(text, ANSWER)


def test_forward_only_keeps_everything_as_new():
    # Given a customer who only forwarded a mail, writing nothing above it
    text = (
        "---------- Forwarded message ---------\nFrom: Shop 주문알림 <orders@shop.example>\n"
        "Date: 2025년 6월 9일 (월) 오후 1:02\nSubject: 주문 취소\n\n주문이 취소되었습니다.\n"
    )
    # Then the forward is what they sent us: nothing is cut away
    assert_split(text, text.rstrip())


def test_mail_that_starts_with_a_quote_header_keeps_everything():
    text = f"On Mon, Jun 9, 2025 at 10:12 AM Shop Support <support@shop.example> wrote:\n{QUOTED_ANSWER}"
    assert_split(text, text.rstrip())


def test_trailing_blank_lines_move_to_the_rest():
    assert split_reply("고맙습니다.\n\n\n") == ("고맙습니다.", "\n\n\n")


def test_empty_text():
    assert split_reply("") == ("", "")


FRAGMENTS = ["a", "가", " ", ">", "\n", "\r\n", "_" * 12, "On 2025 x wrote:", "-- ", "From: x", "Sent: y", "To: z"]


@given(st.lists(st.sampled_from(FRAGMENTS)).map("".join) | st.text())
def test_split_keeps_every_character_and_never_empties_a_reply(text):
    # Given any text, quote-like pieces or not, when it is split
    new, rest = split_reply(text)
    # Then nothing is lost, and a mail with content always keeps some of it as new
    assert new + rest == text
    if text.strip():
        assert new.strip()
