"""Dates in Brazilian Portuguese write month names in lower case (the project's catalogue,
first in LOCALE_PATHS, overrides Django's capitalised ones; msgids kept by common/months.py).
"""

from __future__ import annotations

from datetime import date

import pytest
from django.template import Context, Template
from django.utils import translation
from django.utils.dateformat import format as date_format


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("F", "janeiro"),  # MONTHS
        ("E", "janeiro"),  # MONTHS_ALT
        ("N", "jan."),  # MONTHS_AP
        ("b", "jan"),  # MONTHS_3
    ],
)
def test_pt_br_month_names_are_lowercase(fmt, expected):
    """Each of Django's month tables gives the lowercase pt-BR name."""
    with translation.override("pt-br"):
        assert date_format(date(2026, 1, 5), fmt) == expected


def test_pt_br_long_date_in_a_template_is_lowercase():
    """A template's long date reads "5 de março de 2026", as Brazilian Portuguese writes it;
    English keeps "March 5, 2026"."""
    template = Template('{{ day|date:"DATE_FORMAT" }}')
    with translation.override("pt-br"):
        assert template.render(Context({"day": date(2026, 3, 5)})) == "5 de março de 2026"
    with translation.override("en"):
        assert template.render(Context({"day": date(2026, 3, 5)})) == "March 5, 2026"
