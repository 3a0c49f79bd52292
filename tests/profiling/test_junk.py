"""Junk answers (profiling/junk.py): what is refused, and the real answers that must pass."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from profiling.junk import KEYBOARD_ROWS, PLACEHOLDERS, junk_reason

FAST = settings(max_examples=200, deadline=None)

REAL_NAMES = [
    "Ana",
    "Li",
    "Bo",
    "Ng",
    "Yu",
    "Aaron",
    "Lee",
    "Anne-Marie",
    "O'Brien",
    "João",
    "Conceição",
    "Maria da Graça",
    "José",
    "D'Ávila",
    "Nguyễn",
    "Zoë",
    "Xi",
    "Al",
    "Eva",
    "Jo",
    "Yui",
    "Tre",
    "Na",
    "Nada",
    "Nil",
    "Bobbi",
    "Hannah",
    "Otto",
    "Anna",
    "Isaac",
    "Giovanni",
    "Maria Eduarda",
    "Luíza",
    "Gonçalves",
    "Assunção",
    "Thiago",
    "Wellington",
    "Kauã",
    "Ícaro",
    "Iara",
    "Uirá",
    "Moacyr",
    "Araújo",
    "Müller",
    "Schmidt",
    "Björk",
    "Søren",
    "Łukasz",
    "Đorđe",
    "Ólafur",
    "Şükrü",
    "Mohammed",
    "Abdul-Rahman",
    "Saoirse",
    "Siobhán",
    "Ó Súilleabháin",
    "McAllister",
    "van der Berg",
    "de la Cruz",
    "Wu",
    "Zhao",
    "Kim",
    "Park",
    "Oh",
    "Ito",
    "Ōtani",
    "Thomas Thomas",
    "Mai Mai",
    "Jean-Luc",
    "Mary Ellen",
    "Ngozi",
    "Oluwaseun",
    "Tsz",
    "Dmitri",
    "Владимир",
    "Αλέξανδρος",
    "王芳",
    "さくら",
    "김민준",
    "محمد",
    "גלעד",
    "गंगा",
    "हरिहर",
    "Lulu",
    "Mimi",
    "Bebê",
]

REAL_TEXT_ANSWERS = [
    "Rua Augusta 1500",
    "Rua Augusta 1234",
    "Av. Paulista, 1578 - apto 42",
    "Apartamento pequeno, estilo escandinavo",
    "I like minimalist oak furniture",
    "Casa com quintal e dois cachorros",
    "very very good",
    "1000",
    "42",
    "210",
    "789",
    "São Paulo",
    "Bora Bora",
    "Baden-Baden",
    "Chow chow",
    "Nome, Alaska is where I live",
    "Moro sozinho",
    "Cozinha americana",
    "Mid-century modern",
    "Sofá de 3 lugares",
    "Não tenho preferência de cor, mas gosto de madeira clara",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_pass(name: str) -> None:
    """A real person's name, short, accented, hyphenated or in another script, is not junk."""
    assert junk_reason(name, name=True) is None


@pytest.mark.parametrize("answer", REAL_TEXT_ANSWERS)
def test_ordinary_text_answers_pass(answer: str) -> None:
    """Ordinary answers, house numbers included, are not junk."""
    assert junk_reason(answer) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("asdf", "keyboard_run"),
        ("ASDF", "keyboard_run"),
        ("qwerty", "keyboard_run"),
        ("zxcvb", "keyboard_run"),
        ("asdfgh", "keyboard_run"),
        ("hjkl", "keyboard_run"),
        ("qwe", "keyboard_run"),
        ("asd", "keyboard_run"),
        ("fdsa", "keyboard_run"),
        ("ytrewq", "keyboard_run"),
        ("lkjh", "keyboard_run"),
        ("1234", "keyboard_run"),
        ("123456", "keyboard_run"),
        ("987654", "keyboard_run"),
        ("qwerty123", "keyboard_run"),
        ("asdasd", "keyboard_run"),
        ("as df", "keyboard_run"),
        ("q w e r t y", "keyboard_run"),
        ("Rua asdfg", "keyboard_run"),
        ("meu estilo é qwert", "keyboard_run"),
        ("Rua Augusta 123456", "keyboard_run"),
        ("aaaa", "repeated_characters"),
        ("....", "repeated_characters"),
        ("xxx", "repeated_characters"),
        ("zzzzz", "repeated_characters"),
        ("0000", "repeated_characters"),
        ("Anaaaaa", "repeated_characters"),
        ("Gosto muitoooo", "repeated_characters"),
        ("AaAa", "repeated_characters"),
        ("test test", "repeated_words"),
        ("abc abc", "repeated_words"),
        ("oi oi oi", "repeated_words"),
        ("ha ha", "repeated_words"),
        ("abc def abc def", "repeated_words"),
        ("teste-teste", "repeated_words"),
        ("test", "placeholder"),
        ("Teste", "placeholder"),
        ("TESTÉ", "placeholder"),
        ("testing", "placeholder"),
        ("foo", "placeholder"),
        ("foobar", "placeholder"),
        ("N/A", "placeholder"),
        ("n.a.", "placeholder"),
        ("na", "placeholder"),
        ("none", "placeholder"),
        ("Nenhum", "placeholder"),
        ("nada", "placeholder"),
        ("null", "placeholder"),
        ("abc", "placeholder"),
        ("Sei lá", "placeholder"),
        ("NÃO SEI", "placeholder"),
        ("não sei.", "placeholder"),
        ("No name", "placeholder"),
        ("sem nome", "placeholder"),
        ("Nome", "placeholder"),
        ("name", "placeholder"),
        ("Fulano", "placeholder"),
        ("ciclano", "placeholder"),
        ("Beltrano", "placeholder"),
        ("Fulano de Tal", "placeholder"),
        ("John  Doe", "placeholder"),
        ("jane doe", "placeholder"),
        ("Mickey Mouse", "placeholder"),
        ("Donald Duck", "placeholder"),
        ("Lorem ipsum", "placeholder"),
        ("a", "placeholder"),
        ("A", "placeholder"),
        ("-", "placeholder"),
        (".", "placeholder"),
        ("?!", "no_letters"),
        ("—", "no_letters"),
        ("😀😎", "no_letters"),
    ],
)
def test_junk_is_recognised(text: str, reason: str) -> None:
    """Keyboard runs, held-down keys, repeated words, placeholders and bare punctuation are
    junk, each with its own reason, whatever the case and accents."""
    assert junk_reason(text) == reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Maria2", "digits_in_name"),
        ("J0ão", "digits_in_name"),
        ("Ana 3", "digits_in_name"),
        ("42", "no_letters"),
        ("!!", "no_letters"),
        ("Thomas Thomas Thomas", "repeated_words"),
        ("teste teste", "repeated_words"),
        ("Fulano", "placeholder"),
        ("asdf", "keyboard_run"),
    ],
)
def test_names_refuse_digits_and_answers_without_letters(text: str, reason: str) -> None:
    """A person's name with a digit, or without any letter, is junk; so is the usual junk."""
    assert junk_reason(text, name=True) == reason


def test_digits_and_placeholders_that_are_names_pass_outside_names() -> None:
    """Digits are fine in text answers, and "Nada" is a placeholder only outside a name."""
    assert junk_reason("Maria2") is None
    assert junk_reason("42") is None
    assert junk_reason("Nada", name=True) is None
    assert junk_reason("Nada") == "placeholder"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_answers_are_not_junk(text: str) -> None:
    """Whether a field may be empty is decided elsewhere: empty text is not junk."""
    assert junk_reason(text) is None
    assert junk_reason(text, name=True) is None


def test_placeholders_are_folded() -> None:
    """The placeholder list is kept in its folded form (lower case, no accents, single spaces),
    the form the check compares with."""
    for placeholder in PLACEHOLDERS:
        assert placeholder == " ".join(placeholder.casefold().split())
        assert placeholder.isascii()


@FAST
@given(names=st.lists(st.sampled_from(REAL_NAMES), min_size=1, max_size=3, unique=True))
def test_property_real_names_never_junk(names: list[str]) -> None:
    """A full name made of real names (given names and surnames together) is never junk."""
    assert junk_reason(" ".join(names), name=True) is None


@st.composite
def keyboard_runs(draw: st.DrawFn, *, letters_only: bool = False) -> str:
    rows = [row for row in KEYBOARD_ROWS if row.isalpha()] if letters_only else KEYBOARD_ROWS
    row = draw(st.sampled_from(rows))
    start = draw(st.integers(0, len(row) - 4))
    end = draw(st.integers(start + 4, len(row)))
    run = row[start:end]
    if draw(st.booleans()):
        run = run[::-1]
    return "".join(c.upper() if draw(st.booleans()) else c for c in run)


@FAST
@given(run=keyboard_runs(), name=st.booleans(), padding=st.sampled_from(["", " ", "  \n"]))
def test_property_keyboard_runs_always_junk(run: str, name: bool, padding: str) -> None:
    """Any run of 4 keys or more along a keyboard row, either way, in any case, is junk."""
    assert junk_reason(padding + run + padding, name=name) == "keyboard_run"


@FAST
@given(
    run=keyboard_runs(letters_only=True),
    words=st.lists(st.sampled_from(["Rua", "Casa", "eu", "gosto"])),
)
def test_property_keyboard_run_words_always_junk(run: str, words: list[str]) -> None:
    """A word typed along a row of letters makes a longer answer junk too (a run of digits
    there may be a house number: see test_ordinary_text_answers_pass)."""
    assert junk_reason(" ".join([*words, run])) == "keyboard_run"


@FAST
@given(
    character=st.sampled_from(string.ascii_letters + "áéãçõ.-_*!?#0123456789"),
    times=st.integers(3, 30),
    name=st.booleans(),
)
def test_property_repeated_characters_always_junk(character: str, times: int, name: bool) -> None:
    """One character typed three times or more, and nothing else, is junk."""
    assert junk_reason(character * times, name=name) == "repeated_characters"


@FAST
@given(
    name=st.sampled_from([n for n in REAL_NAMES if n.isascii()]),
    letter=st.sampled_from(string.ascii_lowercase),
    times=st.integers(4, 12),
)
def test_property_held_down_letter_always_junk(name: str, letter: str, times: int) -> None:
    """A letter four times in a row anywhere ("Anaaaaa") is junk."""
    assert junk_reason(name + letter * times, name=True) == "repeated_characters"


@FAST
@given(text=st.text(max_size=60), name=st.booleans())
def test_property_any_text_gets_a_known_reason(text: str, name: bool) -> None:
    """Any text at all gets None or one of the documented reasons, never an exception."""
    assert junk_reason(text, name=name) in {
        None,
        "keyboard_run",
        "repeated_characters",
        "repeated_words",
        "placeholder",
        "digits_in_name",
        "no_letters",
    }
