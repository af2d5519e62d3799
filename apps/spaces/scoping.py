"""Tenant isolation in the queryset layer.

Every model that belongs to a space gets `SpaceScopedManager` (or a subclass with
its own queryset class) as `objects`. It has one public entry point,
`for_space(space)`; `Memory.objects.filter(...)`, `.all()`, `.get()` and friends
raise `UnscopedQueryError`, so a view cannot read another tenant's rows by
forgetting a filter. Related managers
(`space.memories`, `memory.versions`, `episode.memories`) are already narrowed by
their parent row and keep the usual queryset methods.

Django itself reaches rows through `_base_manager` (saves, deletes, related
lookups) and through `get_queryset()` (the admin), which stay available.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.db import models
from django.db.models.manager import BaseManager

if TYPE_CHECKING:
    from apps.spaces.models import Space

M = TypeVar("M", bound=models.Model)


class UnscopedQueryError(AttributeError):
    """Raised when code asks a scoped model for rows without naming a space."""


class SpaceScopedManager(BaseManager[M], Generic[M]):
    _queryset_class: type[models.QuerySet[Any]] = models.QuerySet

    def for_space(self, space: Space | int) -> models.QuerySet[M]:
        space_id = space if isinstance(space, int) else space.pk
        if space_id is None:
            raise ValueError("for_space() needs a saved space")
        return self.get_queryset().filter(space_id=space_id)

    def for_spaces(self, spaces: Iterable[Space | int]) -> models.QuerySet[M]:
        """Rows of several named spaces at once (a person's spaces, counted on one page)."""
        space_ids = [space if isinstance(space, int) else space.pk for space in spaces]
        if None in space_ids:
            raise ValueError("for_spaces() needs saved spaces")
        return self.get_queryset().filter(space_id__in=space_ids)

    def _is_related_manager(self) -> bool:
        # Django's related managers subclass the default manager and carry the
        # parent row as `instance`; their querysets are narrowed by it.
        return "instance" in self.__dict__

    def all(self) -> models.QuerySet[M]:
        if self._is_related_manager():
            return super().all()
        raise self._unscoped("all")

    # Django's related managers call these through super(), which skips __getattr__.
    def exists(self) -> bool:
        return self._related_queryset("exists").exists()

    def count(self) -> int:
        return self._related_queryset("count").count()

    def create(self, **kwargs: Any) -> M:
        return self._related_queryset("create").create(**kwargs)

    def get_or_create(self, **kwargs: Any) -> tuple[M, bool]:
        return self._related_queryset("get_or_create").get_or_create(**kwargs)

    def update_or_create(self, **kwargs: Any) -> tuple[M, bool]:
        return self._related_queryset("update_or_create").update_or_create(**kwargs)

    def _related_queryset(self, name: str) -> models.QuerySet[M]:
        if not self._is_related_manager():
            raise self._unscoped(name)
        return self.get_queryset()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._is_related_manager() and hasattr(self._queryset_class, name):
            return getattr(self.get_queryset(), name)
        raise self._unscoped(name)

    def _unscoped(self, name: str) -> UnscopedQueryError:
        model = self.__dict__.get("model")
        model_name = model.__name__ if model is not None else "model"
        return UnscopedQueryError(
            f"{model_name}.objects.{name}() would read rows of every space; "
            f"use {model_name}.objects.for_space(space).{name}(...)"
        )
