"""Typed per-app options read from Django settings on use (allauth's ``app_settings`` pattern).

An app declares its options once, each with its default and a docstring::

    class AppSettings(BaseAppSettings):
        prefix = "CIAM_MFA_"
        MAX_FAILED_CODES = Setting(int, 5, "Wrong codes allowed per user and per address.")

    app_settings = AppSettings()

``app_settings.MAX_FAILED_CODES`` reads ``settings.CIAM_MFA_MAX_FAILED_CODES`` at each access,
never at import time (Django coding style), so tests and operators may change it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from django.conf import settings

T = TypeVar("T")


class Setting(Generic[T]):
    """One option: ``cast`` applied to the setting's value, or ``default`` when it is unset.

    ``default`` may be a callable of the settings object, for defaults that follow another
    setting (the brand name, the issuer); an empty value then also falls back to it.
    """

    def __init__(
        self,
        cast: Callable[[Any], T],
        default: T | Callable[[Any], T],
        doc: str = "",
    ) -> None:
        self.cast = cast
        self.default = default
        self.__doc__ = doc
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: BaseAppSettings, owner: type) -> T: ...

    def __get__(self, instance: BaseAppSettings | None, owner: type) -> T | Setting[T]:
        if instance is None:
            return self
        value = getattr(settings, instance.prefix + self.name, None)
        if callable(self.default):
            if value in (None, ""):
                return self.cast(self.default(settings))
        elif value is None:
            return self.default
        return self.cast(value)


class BaseAppSettings:
    """Options of one app, all named ``<prefix><NAME>`` in Django settings."""

    prefix = ""
