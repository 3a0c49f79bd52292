"""A renderer for the subset of Go's text/template, with Helm's functions, that the chart in
deploy/helm/ciam uses: the tests render the chart with it where no ``helm`` binary exists.

It is not Helm. What it does not know, it refuses rather than guesses: an unknown function
or action, a field read on nothing (Helm fails there too: "nil pointer evaluating
interface {}"), a map or list printed without ``toYaml``, or an integer of seven digits or
more (Helm reads values as float64 and prints 1000000 as ``1e+06``).

Supported: text with ``{{- ... -}}`` trimming and ``{{/* comments */}}``; ``.Values.x.y``,
``$``, ``$var``, ``$var := ...`` and ``=``; ``if``/``else if``/``else``, ``range`` (lists and
maps, with ``$v`` or ``$k, $v``), ``with``, ``define``/``include``; pipelines and
parentheses; the functions in ``FUNCTIONS`` below.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class RenderError(Exception):
    """The template leaves the supported subset, or Helm would fail on it as well."""


# --- lexing ---------------------------------------------------------------------------------

# "{{- " trims the whitespace before the action, " -}}" the whitespace after it; the dash
# needs the space (``{{-3}}`` is the number -3 in Go).
_ACTION = re.compile(r"\{\{(-[ \t\r\n])?(.*?)([ \t\r\n]-)?\}\}", re.S)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<field>(?:\.[A-Za-z0-9_]+)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>:=|[()|,=])
    """,
    re.X,
)


@dataclass
class Token:
    kind: str
    value: str


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN.match(source, position)
        if not match or match.lastgroup is None:
            raise RenderError(f"cannot read {source[position:]!r} in {{{{{source}}}}}")
        position = match.end()
        if match.lastgroup != "space":
            tokens.append(Token(match.lastgroup, match.group()))
    return tokens


# --- expressions ----------------------------------------------------------------------------


@dataclass
class Literal:
    value: Any


@dataclass
class FieldRef:
    """``.a.b`` on dot, or ``$x.a.b`` on a variable (``base`` then names it)."""

    names: list[str]
    base: str | None = None


@dataclass
class Call:
    name: str
    args: list[Any]


@dataclass
class Pipeline:
    commands: list[list[Any]]
    declare: list[str] = field(default_factory=list)
    assign: bool = False  # ``=`` rather than ``:=``


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise RenderError("unexpected end of action")
        self.position += 1
        return token

    def pipeline(self, *, allow_declare: bool = True) -> Pipeline:
        declare: list[str] = []
        assign = False
        if allow_declare:
            declare, assign = self._declaration()
        commands = [self.command()]
        while (token := self.peek()) is not None and token.value == "|":
            self.take()
            commands.append(self.command())
        return Pipeline(commands, declare, assign)

    def _declaration(self) -> tuple[list[str], bool]:
        start = self.position
        names: list[str] = []
        while (token := self.peek()) is not None and token.kind == "variable":
            names.append(self.take().value)
            following = self.peek()
            if following is not None and following.value == ",":
                self.take()
                continue
            break
        following = self.peek()
        if names and following is not None and following.value in (":=", "="):
            self.take()
            return names, following.value == "="
        self.position = start
        return [], False

    def command(self) -> list[Any]:
        operands: list[Any] = []
        while (token := self.peek()) is not None and token.value not in ("|", ")"):
            operands.append(self.operand())
        if not operands:
            raise RenderError("empty command")
        return operands

    def operand(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return Literal(json.loads(token.value))
        if token.kind == "raw":
            return Literal(token.value[1:-1])
        if token.kind == "number":
            return Literal(float(token.value) if "." in token.value else int(token.value))
        if token.kind == "variable":
            name, *names = token.value.split(".")
            return FieldRef(names, base=name)
        if token.kind == "field":
            return FieldRef([] if token.value == "." else token.value[1:].split("."))
        if token.kind == "ident":
            if token.value in ("true", "false"):
                return Literal(token.value == "true")
            if token.value == "nil":
                return Literal(None)
            return Call(token.value, [])
        if token.value == "(":
            inner = self.pipeline(allow_declare=False)
            if self.take().value != ")":
                raise RenderError("unclosed parenthesis")
            return inner
        raise RenderError(f"unexpected {token.value!r}")


def parse_pipeline(source: str) -> Pipeline:
    parser = _Parser(tokenize(source))
    pipeline = parser.pipeline()
    if parser.peek() is not None:
        raise RenderError(f"unexpected {parser.peek()!r} in {{{{{source}}}}}")
    return pipeline


# --- template structure ---------------------------------------------------------------------


@dataclass
class Text:
    text: str


@dataclass
class Output:
    pipeline: Pipeline


@dataclass
class Block:
    """``if`` (branches hold each condition), ``range`` or ``with``."""

    kind: str
    branches: list[tuple[Pipeline, list[Any]]]
    otherwise: list[Any] = field(default_factory=list)


def _pieces(source: str) -> list[tuple[str, str]]:
    """("text", ...) and ("action", ...) pieces, trim markers applied."""
    pieces: list[tuple[str, str]] = []
    position = 0
    trim_next = False
    for match in _ACTION.finditer(source):
        text = source[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        trim_next = bool(match.group(3))
        position = match.end()
    tail = source[position:]
    pieces.append(("text", tail.lstrip() if trim_next else tail))
    return pieces


def parse_template(source: str, defines: dict[str, list[Any]]) -> list[Any]:
    """The nodes of one file; its ``define`` blocks go into ``defines``."""
    pieces = _pieces(source)
    nodes, stop = _parse_nodes(pieces, 0, defines, ())
    if stop is not None:
        raise RenderError(f"unexpected {{{{{pieces[stop][1]}}}}}")
    return nodes


def _parse_nodes(
    pieces: list[tuple[str, str]],
    index: int,
    defines: dict[str, list[Any]],
    stops: tuple[str, ...],
) -> tuple[list[Any], int | None]:
    """Nodes from ``index`` until an action whose keyword is in ``stops`` (its index is
    returned) or the end (None)."""
    nodes: list[Any] = []
    while index < len(pieces):
        kind, content = pieces[index]
        if kind == "text":
            if content:
                nodes.append(Text(content))
            index += 1
            continue
        keyword = content.split(None, 1)[0] if content else ""
        if keyword in stops:
            return nodes, index
        if content.startswith("/*"):
            if not content.endswith("*/"):
                raise RenderError(f"unclosed comment {content!r}")
            index += 1
        elif keyword in ("if", "range", "with"):
            block, index = _parse_block(pieces, index, defines)
            nodes.append(block)
        elif keyword == "define":
            name = json.loads(content.split(None, 1)[1])
            body, end = _parse_nodes(pieces, index + 1, defines, ("end",))
            if end is None:
                raise RenderError(f"define {name!r} has no end")
            defines[name] = body
            index = end + 1
        elif keyword in ("end", "else", "template", "block", "break", "continue"):
            raise RenderError(f"unsupported or misplaced {{{{{content}}}}}")
        else:
            nodes.append(Output(parse_pipeline(content)))
            index += 1
    if stops:
        raise RenderError(f"missing {{{{end}}}} (looking for {stops})")
    return nodes, None


def _parse_block(
    pieces: list[tuple[str, str]], index: int, defines: dict[str, list[Any]]
) -> tuple[Block, int]:
    kind, condition = pieces[index][1].split(None, 1)
    block = Block(kind, [])
    while True:
        body, stop = _parse_nodes(pieces, index + 1, defines, ("else", "end"))
        assert stop is not None
        block.branches.append((parse_pipeline(condition), body))
        action = pieces[stop][1]
        if action == "end":
            return block, stop + 1
        rest = action[len("else") :].strip()
        if kind == "if" and rest.startswith("if "):
            condition, index = rest[len("if ") :], stop
            continue
        if rest:
            raise RenderError(f"unsupported {{{{{action}}}}}")
        block.otherwise, end = _parse_nodes(pieces, stop + 1, defines, ("end",))
        assert end is not None
        return block, end + 1


# --- values and functions -------------------------------------------------------------------


def truthy(value: Any) -> bool:
    """Go templates: false, 0, nil, and empty strings, maps and lists are false."""
    return bool(value)


def go_string(value: Any) -> str:
    """How Helm prints a value in ``{{ }}`` (and sprig's ``toString`` and ``quote``)."""
    if value is None:
        return ""  # "<no value>", which Helm replaces with nothing
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) >= 1_000_000:
            raise RenderError(f"Helm prints {value} in e-notation: quote it in the values")
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise RenderError(f"{value!r} printed without toYaml")


def _check_numbers(value: Any) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _check_numbers(item)
    elif isinstance(value, list):
        for item in value:
            _check_numbers(item)
    elif isinstance(value, int) and not isinstance(value, bool):
        go_string(value)


def to_yaml(value: Any) -> str:
    """Helm's toYaml: keys sorted, lists not indented under their key, no final newline."""
    if value is None:
        return "null"
    _check_numbers(value)
    yaml = importlib.import_module("yaml")
    text: str = yaml.safe_dump(
        value, default_flow_style=False, sort_keys=True, width=float("inf"), allow_unicode=True
    )
    return text.removesuffix("\n...\n").rstrip("\n")


def _indent(width: int, text: str) -> str:
    pad = " " * width
    return pad + text.replace("\n", "\n" + pad)


def _default(fallback: Any, *value: Any) -> Any:
    return value[0] if value and truthy(value[0]) else fallback


def _required(message: str, value: Any = None) -> Any:
    if value is None or value == "":
        raise RenderError(f"required: {message}")
    return value


def _fail(message: str) -> Any:
    raise RenderError(f"fail: {message}")


def _printf(template: str, *args: Any) -> str:
    converted = re.sub(r"%[vsd]", "%s", template)
    return converted % tuple(go_string(arg) for arg in args)


def _quote(*values: Any) -> str:
    return " ".join(json.dumps(go_string(value)) for value in values if value is not None)


def _eq(first: Any, *others: Any) -> bool:
    return any(first == other for other in others)


def _and(*values: Any) -> Any:
    for value in values:
        if not truthy(value):
            return value
    return values[-1]


def _or(*values: Any) -> Any:
    for value in values:
        if truthy(value):
            return value
    return values[-1]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "default": _default,
    "required": _required,
    "fail": _fail,
    "quote": _quote,
    "toString": go_string,
    "toYaml": to_yaml,
    "nindent": lambda width, text: "\n" + _indent(width, text),
    "indent": _indent,
    "trunc": lambda length, text: text[:length],
    "trimSuffix": lambda suffix, text: text.removesuffix(suffix),
    "replace": lambda old, new, text: text.replace(old, new),
    "contains": lambda part, text: part in text,
    "printf": _printf,
    "sha256sum": lambda text: hashlib.sha256(text.encode()).hexdigest(),
    "b64enc": lambda text: base64.b64encode(text.encode()).decode(),
    "not": lambda value: not truthy(value),
    "and": _and,
    "or": _or,
    "eq": _eq,
    "ne": lambda first, second: first != second,
}


# --- evaluation -----------------------------------------------------------------------------


class _Run:
    """One template invocation: its root (``$``), dot, and variable scopes."""

    def __init__(self, renderer: Renderer, root: Any) -> None:
        self.renderer = renderer
        self.scopes: list[dict[str, Any]] = [{"$": root}]

    def variable(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise RenderError(f"undefined variable {name}")

    def execute(self, nodes: list[Any], dot: Any) -> str:
        out: list[str] = []
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.text)
            elif isinstance(node, Output):
                value = self.pipeline(node.pipeline, dot)
                if not node.pipeline.declare:
                    out.append(go_string(value))
            else:
                out.append(self.block(node, dot))
        return "".join(out)

    def block(self, block: Block, dot: Any) -> str:
        self.scopes.append({})
        try:
            if block.kind == "if":
                for condition, body in block.branches:
                    if truthy(self.pipeline(condition, dot)):
                        return self.execute(body, dot)
                return self.execute(block.otherwise, dot)
            condition, body = block.branches[0]
            value = self.pipeline(condition, dot, declare=block.kind != "range")
            if block.kind == "with":
                return (
                    self.execute(body, value)
                    if truthy(value)
                    else self.execute(block.otherwise, dot)
                )
            return self.range(condition, value, body, block.otherwise, dot)
        finally:
            self.scopes.pop()

    def range(
        self, condition: Pipeline, value: Any, body: list[Any], otherwise: list[Any], dot: Any
    ) -> str:
        if value is None or not truthy(value):
            return self.execute(otherwise, dot)
        if isinstance(value, dict):
            items = sorted(value.items())  # Go ranges over a map in key order
        elif isinstance(value, list):
            items = list(enumerate(value))
        else:
            raise RenderError(f"range over {value!r}")
        out: list[str] = []
        for key, item in items:
            names = condition.declare
            if len(names) == 1:
                self.scopes[-1][names[0]] = item
            elif len(names) == 2:
                self.scopes[-1][names[0]], self.scopes[-1][names[1]] = key, item
            out.append(self.execute(body, item))
        return "".join(out)

    def pipeline(self, pipeline: Pipeline, dot: Any, *, declare: bool = True) -> Any:
        value: Any = None
        for position, command in enumerate(pipeline.commands):
            piped = (value,) if position else ()
            value = self.command(command, dot, piped)
        if declare and pipeline.declare:
            if len(pipeline.declare) != 1:
                raise RenderError("only range declares two variables")
            name = pipeline.declare[0]
            if pipeline.assign:
                for scope in reversed(self.scopes):
                    if name in scope:
                        scope[name] = value
                        break
                else:
                    raise RenderError(f"assignment to undeclared {name}")
            else:
                self.scopes[-1][name] = value
        return value

    def command(self, operands: list[Any], dot: Any, piped: tuple[Any, ...]) -> Any:
        head, *rest = operands
        if isinstance(head, Call):
            args = [self.operand(operand, dot) for operand in rest]
            return self.call(head.name, [*args, *piped], dot)
        if rest or piped:
            raise RenderError(f"{head!r} is not a function: it takes no arguments")
        return self.operand(head, dot)

    def operand(self, operand: Any, dot: Any) -> Any:
        if isinstance(operand, Literal):
            return operand.value
        if isinstance(operand, Pipeline):
            return self.pipeline(operand, dot, declare=False)
        if isinstance(operand, Call):
            return self.call(operand.name, [], dot)
        if isinstance(operand, FieldRef):
            value = dot if operand.base is None else self.variable(operand.base)
            for name in operand.names:
                if value is None:
                    raise RenderError(f"nil pointer evaluating .{name}")
                if not isinstance(value, dict):
                    raise RenderError(f"can't read .{name} of {value!r}")
                value = value.get(name)
            return value
        raise RenderError(f"cannot evaluate {operand!r}")

    def call(self, name: str, args: list[Any], dot: Any) -> Any:
        if name == "include":
            template, data = args
            return self.renderer.include(template, data)
        function = FUNCTIONS.get(name)
        if function is None:
            raise RenderError(f"function {name!r} is not supported by this renderer")
        try:
            return function(*args)
        except TypeError as error:
            raise RenderError(f"{name}{tuple(args)!r}: {error}") from error


class Renderer:
    """Parsed templates and their ``define`` blocks."""

    def __init__(self) -> None:
        self.defines: dict[str, list[Any]] = {}
        self.files: dict[str, list[Any]] = {}

    def add(self, name: str, source: str) -> None:
        self.files[name] = parse_template(source, self.defines)

    def include(self, name: str, data: Any) -> str:
        if name not in self.defines:
            raise RenderError(f"no template named {name!r}")
        return _Run(self, data).execute(self.defines[name], data)

    def render(self, name: str, data: Any) -> str:
        return _Run(self, data).execute(self.files[name], data)


# --- the chart ------------------------------------------------------------------------------


def merge_values(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the chart's: maps merged key by key, anything else
    replaced, ``None`` removing the key."""
    merged = dict(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class RenderedChart:
    files: dict[str, str]

    def manifests(self) -> list[dict[str, Any]]:
        """Every non-empty YAML document of every template but NOTES.txt."""
        yaml = importlib.import_module("yaml")
        documents: list[dict[str, Any]] = []
        for name, text in sorted(self.files.items()):
            if name == "NOTES.txt":
                continue
            for document in yaml.safe_load_all(text):
                if document is not None:
                    if not isinstance(document, dict):
                        raise RenderError(f"{name}: a document that is not a mapping")
                    documents.append(document)
        return documents


def render_chart(
    chart_dir: Path,
    values: dict[str, Any] | None = None,
    *,
    release: str = "ciam",
    namespace: str = "default",
    is_upgrade: bool = False,
) -> RenderedChart:
    """What ``helm template RELEASE CHART -f values`` would give, for this subset."""
    yaml = importlib.import_module("yaml")
    chart = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text()) or {}
    renderer = Renderer()
    templates = sorted(path for path in (chart_dir / "templates").iterdir() if path.is_file())
    for path in templates:
        renderer.add(path.name, path.read_text())
    data = {
        "Values": merge_values(defaults, values or {}),
        "Release": {
            "Name": release,
            "Namespace": namespace,
            "Service": "Helm",
            "IsInstall": not is_upgrade,
            "IsUpgrade": is_upgrade,
            "Revision": 2 if is_upgrade else 1,
        },
        "Chart": {
            "Name": chart["name"],
            "Version": str(chart["version"]),
            "AppVersion": str(chart.get("appVersion", "")),
            "Description": chart.get("description", ""),
        },
    }
    files = {
        path.name: renderer.render(path.name, data)
        for path in templates
        if not path.name.startswith("_")
    }
    return RenderedChart(files)
