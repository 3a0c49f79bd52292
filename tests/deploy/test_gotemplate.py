"""The test renderer of Go templates (tests/deploy/gotemplate.py) against outputs Go's
text/template and Helm give for the same input, and its refusals where Helm would fail or
print something other than YAML."""

from __future__ import annotations

from typing import Any

import pytest

from .gotemplate import Renderer, RenderError

yaml = pytest.importorskip("yaml")


def render(source: str, data: Any = None, helpers: str = "") -> str:
    renderer = Renderer()
    renderer.add("_helpers.tpl", helpers)
    renderer.add("t.yaml", source)
    return renderer.render("t.yaml", data if data is not None else {})


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("a\n  {{- .x }}\nb", {"x": 1}, "a1\nb"),
        ("a {{ .x -}}\n\n  b", {"x": "v"}, "a vb"),
        ("{{/* gone */}}x", {}, "x"),
        ("{{- /* gone */ -}}\n x", {}, "x"),
        ("{{ .missing }}|{{ .flag }}|{{ .half }}", {"flag": True, "half": 0.5}, "|true|0.5"),
        ("{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}", {"b": [1]}, "B"),
        ("{{ if .a }}A{{ else }}C{{ end }}", {"a": {}}, "C"),
        (
            "{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}",
            {"m": {"b": 2, "a": 1}},
            "a=1;b=2;",
        ),
        (
            "{{ range .l }}[{{ . }}|{{ $.top }}]{{ end }}",
            {"l": ["x", "y"], "top": "T"},
            "[x|T][y|T]",
        ),
        ("{{ range .l }}x{{ else }}empty{{ end }}", {"l": []}, "empty"),
        ("{{ with .m }}{{ .k }}{{ else }}none{{ end }}", {"m": {"k": "v"}}, "v"),
        ('{{ $n := .a | default "d" }}{{ $n }}', {"a": ""}, "d"),
        ("{{ .n | quote }} {{ quote .s }}", {"n": 3, "s": 'say "hi"'}, '"3" "say \\"hi\\""'),
        ('{{ printf "%s-%s" .a .b | trunc 5 | trimSuffix "-" }}', {"a": "abcd", "b": "e"}, "abcd"),
        ('{{ contains "ciam" .r }} {{ not .r }}', {"r": "my-ciam"}, "true false"),
        (
            "k:\n  {{- toYaml .v | nindent 2 }}",
            {"v": {"b": [1, 2], "a": "x"}},
            "k:\n  a: x\n  b:\n  - 1\n  - 2",
        ),
        ("{{ toYaml .s }}", {"s": "plain"}, "plain"),
    ],
)
def test_renders_like_go_templates(source: str, data: Any, expected: str) -> None:
    """Trimming, comments, missing values, conditions, ranges (maps in key order), with,
    variables, and Helm's string and YAML functions give what Helm gives."""
    assert render(source, data) == expected


def test_include_renders_a_define_with_the_data_given() -> None:
    """include runs a define with the argument as dot (and as $), and its result pipes on."""
    helpers = '{{- define "t.name" -}}{{ .Release.Name }}-x{{- end }}'
    source = 'name: {{ include "t.name" . }}\nl:\n  {{- include "t.name" . | nindent 2 }}'
    assert render(source, {"Release": {"Name": "r"}}, helpers) == "name: r-x\nl:\n  r-x"


@pytest.mark.parametrize(
    ("source", "data", "message"),
    [
        ("{{ .a.b }}", {}, "nil pointer"),
        ('{{ required "give a" .a }}', {}, "give a"),
        ("{{ .big }}", {"big": 1000000}, "e-notation"),
        ("{{ .m }}", {"m": {"k": 1}}, "without toYaml"),
        ("{{ lower .s }}", {"s": "A"}, "not supported"),
        ("{{ if .a }}x", {"a": 1}, "missing"),
        ('{{ include "nowhere" . }}', {}, "no template"),
        ('{{ template "x" . }}', {}, "unsupported"),
    ],
)
def test_refuses_what_it_cannot_render_faithfully(source: str, data: Any, message: str) -> None:
    """A field of nothing, a failed required, a number Helm prints in e-notation, a map
    without toYaml, an unknown function or action, and an unclosed block are errors."""
    with pytest.raises(RenderError, match=message):
        render(source, data)
