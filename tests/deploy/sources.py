"""Readers of the deployment files the tests compare: the systemd units and timers of
deploy/, deploy/ciam.env, the upstreams of deploy/nginx.conf and the Containerfile."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONTAINERFILE = DEPLOY / "container" / "Containerfile"
COMPOSE = DEPLOY / "container" / "compose.yaml"
CHART = DEPLOY / "helm" / "ciam"

_MANAGE_COMMAND = re.compile(r"manage\.py\s+([a-z][a-z0-9_]*)")


def manage_commands(command: str | list[str]) -> list[str]:
    """The manage.py commands a command line (or a shell script in one) runs, in order."""
    text = command if isinstance(command, str) else " ".join(command)
    return _MANAGE_COMMAND.findall(text)


# --- systemd --------------------------------------------------------------------------------


@dataclass
class Unit:
    name: str
    exec_start: list[str]
    timer_seconds: int | None = None

    @property
    def commands(self) -> list[str]:
        return [command for line in self.exec_start for command in manage_commands(line)]


# OnCalendar= values of deploy/*.timer and their period.
_CALENDAR_SECONDS = {"hourly": 3600, "minutely": 60, "*:0/15": 900}


def _directives(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def systemd_units() -> dict[str, Unit]:
    """deploy/ciam*.service by name, each with its ExecStart lines and, when a timer of the
    same name starts it, that timer's period in seconds."""
    units: dict[str, Unit] = {}
    for path in sorted(DEPLOY.glob("ciam*.service")):
        exec_start = [value for key, value in _directives(path) if key == "ExecStart"]
        units[path.stem] = Unit(path.stem, exec_start)
    for path in sorted(DEPLOY.glob("ciam*.timer")):
        calendars = [value for key, value in _directives(path) if key == "OnCalendar"]
        assert len(calendars) == 1, path
        if calendars[0] not in _CALENDAR_SECONDS:
            raise AssertionError(f"{path.name}: OnCalendar={calendars[0]} needs its period here")
        units[path.stem].timer_seconds = _CALENDAR_SECONDS[calendars[0]]
    return units


def cron_period_seconds(schedule: str) -> int | None:
    """The period of a five-field cron schedule of the simple kinds the chart uses: every
    minute, every N minutes, once an hour at a fixed minute. None for anything else."""
    minute, hour, day, month, weekday = schedule.split()
    if (hour, day, month, weekday) != ("*", "*", "*", "*"):
        return None
    if minute == "*":
        return 60
    if minute.startswith("*/") and minute[2:].isdigit():
        return int(minute[2:]) * 60
    if minute.isdigit() and int(minute) < 60:
        return 3600
    return None


# --- environment files and nginx ------------------------------------------------------------


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an environment file (comments and blank lines skipped)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip().strip('"')
    return values


def nginx_upstreams() -> dict[str, str]:
    """upstream NAME { server ADDRESS; } of deploy/nginx.conf: name to its first address."""
    text = (DEPLOY / "nginx.conf").read_text()
    upstreams = {}
    for name, body in re.findall(r"upstream\s+(\w+)\s*\{(.*?)\}", text, re.S):
        servers = re.findall(r"^\s*server\s+([^;\s]+)", body, re.M)
        upstreams[name] = servers[0]
    return upstreams


# --- Containerfile --------------------------------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    arguments: str

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of CMD, ENTRYPOINT, RUN or HEALTHCHECK CMD, if written so."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            text = text.partition(" CMD ")[2].strip()
        if text.startswith("["):
            value = json.loads(text)
            assert isinstance(value, list)
            return [str(item) for item in value]
        return None

    @property
    def flags(self) -> dict[str, str]:
        """--name=value options before the arguments (COPY --from=..., HEALTHCHECK ...)."""
        return dict(re.findall(r"--([a-z-]+)=(\S+)", self.arguments))

    @property
    def words(self) -> list[str]:
        """The arguments without their --options."""
        return [word for word in self.arguments.split() if not word.startswith("--")]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]

    def env(self) -> dict[str, str]:
        """Every ENV of the stage (KEY=value pairs; a value may be quoted)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for key, value in re.findall(
                r"""([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)""", instruction.arguments
            ):
                values[key] = value.strip('"')
        return values


def containerfile_stages(path: Path = CONTAINERFILE) -> list[Stage]:
    """The build stages of a Containerfile, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments, parser directives, and comment lines inside continuations
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append((pending + line).strip())
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append(Instruction(keyword, arguments.strip()))
    return stages
