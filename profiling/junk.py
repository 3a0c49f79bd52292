"""Junk answers: text a customer typed only to get past a question.

Long sign-up forms and questions asked during sign-in invite answers such as "asdf",
"test test" or "aaaa". Stored, they poison personalization (a "style" of "qwerty", a
given name of "Fulano" on every e-mail), and they hide the fact that the question was, in
effect, skipped. ``junk_reason`` recognises the common kinds so the question can be asked
again politely (with the option to skip it), and the learner can count them apart from real
answers.

Every check errs on the side of letting an answer through: refusing a real name ("Li",
"Ng", "Aaron", "Nguyễn") is worse than keeping a junk one. The checks work on a folded
form of the text (case folded, accents removed, whitespace collapsed), so "TESTE", "teste"
and "testé" are the same answer.

Pure functions: no database, no settings.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

__all__ = [
    "KEYBOARD_ROWS",
    "PLACEHOLDERS",
    "PLACEHOLDERS_THAT_ARE_NAMES",
    "REAL_REPEATED_WORDS",
    "junk_reason",
]

# The rows of a keyboard, left to right. QWERTY and the Brazilian ABNT2 layout have the same
# letters on each row (ABNT2 adds "ç" at the end of the middle row, which nobody types in a
# run). Digits have two rows: the top row (1...0) and counting from zero (0123...).
KEYBOARD_ROWS: tuple[str, ...] = (
    "qwertyuiop",
    "asdfghjkl",
    "zxcvbnm",
    "1234567890",
    "0123456789",
)

# Answers that stand for "nothing" or "I won't tell", in English and Portuguese, in their
# folded form (lower case, no accents, single spaces). Compared with the whole answer only:
# "Nome" is a placeholder, "Nome Sobrenome" is not caught here.
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        # Tests and programmers' words.
        "test",
        "teste",
        "testes",
        "testing",
        "testando",
        "tst",
        "test123",
        "teste123",
        "testuser",
        "test user",
        "usuario teste",
        "asdf",
        "foo",
        "bar",
        "baz",
        "foobar",
        "xxx",
        "xyz",
        "abc",
        "abcd",
        "abcde",
        "abc123",
        "null",
        "nil",
        "none",
        "undefined",
        "lorem",
        "lorem ipsum",
        "sample",
        "example",
        "exemplo",
        "dummy",
        "fake",
        "blah",
        "bla",
        "blabla",
        "blablabla",
        "hello",
        "hello world",
        "ola mundo",
        "hi",
        "oi",
        # "Nothing" and "I don't know".
        "n/a",
        "n.a.",
        "na",
        "nenhum",
        "nenhuma",
        "nada",
        "nothing",
        "nobody",
        "ninguem",
        "unknown",
        "desconhecido",
        "idk",
        "dunno",
        "whatever",
        "tanto faz",
        "qualquer",
        "qualquer coisa",
        "sei la",
        "nao sei",
        "no sei",
        "i don't know",
        "i dont know",
        "nao tenho",
        "nao informado",
        "nao informar",
        "prefiro nao dizer",
        "prefiro nao informar",
        "anonymous",
        "anonimo",
        "anonima",
        "anon",
        # Words of the form itself typed back.
        "no name",
        "noname",
        "sem nome",
        "nome",
        "name",
        "seu nome",
        "your name",
        "my name",
        "meu nome",
        "first name",
        "last name",
        "full name",
        "nome completo",
        "sobrenome",
        "primeiro nome",
        "user",
        "usuario",
        "admin",
        "cliente",
        "customer",
        # Stand-in people.
        "fulano",
        "fulana",
        "ciclano",
        "ciclana",
        "sicrano",
        "sicrana",
        "beltrano",
        "beltrana",
        "fulano de tal",
        "fulana de tal",
        "ze ninguem",
        "joao ninguem",
        "john doe",
        "jane doe",
        "joe bloggs",
        "mickey mouse",
        "minnie mouse",
        "donald duck",
        "pato donald",
        # A single character or sign.
        "a",
        "x",
        "-",
        "--",
        ".",
        "?",
        "_",
        "*",
        "/",
    }
)

# Placeholders in free text that are also people's names: "Na" is a Korean surname (나),
# "Nada" an Arabic and South Slavic given name, "Nil" a Turkish one, "Anon" an Irish one,
# "Bär" a German surname. A name field accepts them.
PLACEHOLDERS_THAT_ARE_NAMES: frozenset[str] = frozenset({"na", "nada", "nil", "anon", "bar"})

# Real names made of a repeated word (places, a dog breed, a fish, a dance...): never
# ``repeated_words``.
REAL_REPEATED_WORDS: frozenset[str] = frozenset(
    {
        "bora bora",
        "pago pago",
        "walla walla",
        "wagga wagga",
        "baden baden",
        "sing sing",
        "chow chow",
        "mahi mahi",
        "ylang ylang",
        "cha cha",
        "can can",
        "duran duran",
        "tom tom",
        "yo yo",
        "bye bye",
        "ping pong",
    }
)

_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]|_")


def _words(folded: str) -> list[str]:
    """The words of ``folded``: runs of letters, digits and marks (a vowel sign of Devanagari
    belongs to its word), split at spaces, punctuation and symbols."""
    words: list[str] = []
    current: list[str] = []
    for character in folded:
        if unicodedata.category(character)[0] in "LNM":
            current.append(character)
        elif current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def _folded(text: str) -> str:
    """``text`` case folded, without accents, with single spaces: the form every check reads."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


@lru_cache(maxsize=1)
def _runs() -> tuple[frozenset[str], frozenset[str]]:
    """Every run of 4 or more keys along a row, in either direction, and the runs of 3 keys
    that start or end a row of letters ("qwe", "asd", "zxc", "iop", "jkl"... and reversed),
    with "123" and "321".

    Only runs of 3 at the edge of a row count: people start mashing at the edge, while a 3
    key run from the middle of a row is often a real name ("Yui", "Tre")."""
    long_runs: set[str] = set()
    edge_trigrams: set[str] = set()
    for row in KEYBOARD_ROWS:
        for candidate in (row, row[::-1]):
            for start in range(len(candidate)):
                for end in range(start + 4, len(candidate) + 1):
                    long_runs.add(candidate[start:end])
            if row.isalpha():
                edge_trigrams.update((candidate[:3], candidate[-3:]))
    # Of the digits, only "123" and "321": "789" or "210" may be a flat or a house number.
    edge_trigrams.update(("123", "321"))
    return frozenset(long_runs), frozenset(edge_trigrams)


def _is_keyboard_mash(word: str) -> bool:
    """Whether ``word`` is made entirely of keyboard runs ("asdf", "qwerty123", "asdasd"):
    each piece a run of 4 or more keys, or a run of 3 at the edge of a row."""
    long_runs, edge_trigrams = _runs()
    if len(word) < 3:
        return False
    # reachable[i]: word[:i] splits into runs.
    reachable = [False] * (len(word) + 1)
    reachable[0] = True
    for end in range(3, len(word) + 1):
        # A piece is at most one row long.
        for start in range(max(0, end - max(map(len, KEYBOARD_ROWS))), end - 2):
            if not reachable[start]:
                continue
            piece = word[start:end]
            if piece in long_runs or piece in edge_trigrams:
                reachable[end] = True
                break
    return reachable[-1]


def _keyboard_run(folded: str) -> bool:
    """The answer, or one of its words, typed along a row of keys: "qwerty", "asdf",
    "hjkl", "zxcvb", "lkjh", "1234", "as df", "Rua asdfg".

    The whole answer (its letters and digits, spaces ignored) counts from 3 keys ("qwe",
    "123"). A word inside a longer answer counts from 4 keys, or 5 when it is only digits so
    that house numbers such as "Rua Augusta 1234" pass."""
    whole = "".join(_words(folded))
    if _is_keyboard_mash(whole):
        return True
    words = _words(folded)
    if len(words) < 2:
        return False
    for word in words:
        minimum = 5 if word.isdigit() else 4
        if len(word) >= minimum and _is_keyboard_mash(word):
            return True
    return False


def _repeated_characters(folded: str) -> bool:
    """One character held down: "aaaa", "....", "xxx", "zzzzz" (3 times or more and more than
    three quarters of the answer), or a letter 4 times in a row anywhere ("Anaaaaa").

    Digits only count when they are the whole answer ("0000"): "1000" and "Rua 10000" are
    real numbers. Two letters in a row are common in names ("Aaron", "Lee", "Anna")."""
    characters = [c for c in folded if not c.isspace()]
    if not characters:
        return False
    most, count = Counter(characters).most_common(1)[0]
    if count >= 3 and (
        count == len(characters) or (not most.isdigit() and count * 4 > len(characters) * 3)
    ):
        return True
    return any(
        character.isalpha() and folded[index : index + 4] == character * 4
        for index, character in enumerate(folded)
    )


def _repeated_words(folded: str, *, name: bool) -> bool:
    """The same word, or words, typed again: "test test", "abc abc", "oi oi oi",
    "abc def abc def". Real doubled names ("Bora Bora", "Chow Chow") pass, and so does a
    word repeated inside a longer answer ("very very good").

    In a name a word said twice is often real ("Thomas Thomas", the Vietnamese "Mai Mai"): there
    it counts only when said three times or more, or when the word is a placeholder
    ("teste teste")."""
    words = _words(folded)
    if len(words) < 2 or " ".join(words) in REAL_REPEATED_WORDS:
        return False
    for size in range(1, len(words) // 2 + 1):
        times = len(words) // size
        if len(words) % size or words != words[:size] * times:
            continue
        if not name or times >= 3 or _placeholder(" ".join(words[:size]), name=True):
            return True
    return False


def _placeholder(folded: str, *, name: bool) -> bool:
    """A stand-in for an answer (``PLACEHOLDERS``): "test", "N/A", "não sei", "Fulano de Tal",
    "John Doe", "-". Also found with its punctuation removed ("n.a", "sei lá...")."""
    candidates = {
        folded,
        " ".join(_NOT_WORD_OR_SPACE.sub(" ", folded).split()),
        " ".join(_NOT_WORD_OR_SPACE.sub("", folded).split()),
    }
    if name:
        candidates -= PLACEHOLDERS_THAT_ARE_NAMES
    return any(candidate in PLACEHOLDERS for candidate in candidates if candidate)


def junk_reason(text: str, *, name: bool = False) -> str | None:
    """Why ``text`` does not look like a real answer, or None when it does.

    ``name``: the answer is a person's name (given name, family name, nickname...): digits
    and answers without a letter are refused too.

    The codes, checked in this order:

    - ``keyboard_run``: typed along a row of keys ("asdf", "qwerty", "qwe", "1234").
    - ``repeated_characters``: one key held down ("aaaa", "....", "Anaaaaa").
    - ``repeated_words``: the same word again ("test test", "oi oi oi").
    - ``placeholder``: a stand-in answer ("teste", "n/a", "nao sei", "Fulano", "John Doe").
    - ``no_letters``: not a single letter: for a name, any such answer ("42", "!!"); otherwise
      only punctuation and symbols ("?!", "--"), since "42" is a fine answer to a question.
    - ``digits_in_name``: a name with letters and digits ("Maria2", "J0ão"); names only.

    An empty answer is not junk (None): whether a field may be empty is not decided here.
    """
    folded = _folded(text)
    if not folded:
        return None
    if _keyboard_run(folded):
        return "keyboard_run"
    if _repeated_characters(folded):
        return "repeated_characters"
    if _repeated_words(folded, name=name):
        return "repeated_words"
    if _placeholder(folded, name=name):
        return "placeholder"
    has_letter = any(c.isalpha() for c in folded)
    has_digit = any(c.isdigit() for c in folded)
    if not has_letter and (name or not has_digit):
        return "no_letters"
    if name and has_digit:
        return "digits_in_name"
    return None
