"""The core's two word rules every layer shares: what an ID is, and what yes/no is."""

import pytest

from core.ids import MAX_ID, is_id, is_whole_number
from core.yesno import parse_yes_no


@pytest.mark.parametrize("ref", ["0", "7", str(MAX_ID), "9" * 19])
def test_digits_up_to_an_ids_length_are_an_id(ref):
    assert is_id(ref)


@pytest.mark.parametrize("ref", ["", "web", "²", "٣", "-1", "1.0", "9" * 20])
def test_anything_else_is_a_name(ref):
    assert not is_id(ref)


def test_a_whole_number_has_no_more_digits_than_its_maximum():
    assert is_whole_number("100", maximum=999)
    assert not is_whole_number("1000", maximum=999)


@pytest.mark.parametrize("word", [True, "yes", "YES", " true ", "1", "on"])
def test_yes_words_are_true(word):
    assert parse_yes_no(word) is True


@pytest.mark.parametrize("word", [False, "no", "False", "0", "off"])
def test_no_words_are_false(word):
    assert parse_yes_no(word) is False


@pytest.mark.parametrize("word", ["", "maybe", "2", None])
def test_other_words_are_refused(word):
    with pytest.raises(ValueError):
        parse_yes_no(word)
