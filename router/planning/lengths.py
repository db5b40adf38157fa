"""Context lengths a catalog does not state, filled from the same model at another provider.

Some catalogs state no context length (every PipeLLM model); another provider's catalog
often states one for the same model (``openrouter:anthropic/claude-sonnet-4.6`` for
``pipellm:claude-sonnet-4-6``: the same :attr:`~router.catalog.ModelCard.canonical` name).
:class:`KnownLengths` indexes, once per set of catalogs, the **smallest** context length
any of them states per canonical name, and which deployment states it: the smallest is
the safe figure when providers disagree (a provider may serve a model with a shorter
window than its maker's). The cards themselves are never changed: a catalog is its
provider's statement, and a figure filled in from elsewhere says where it came from
(:class:`ContextLength`).

:class:`LengthBook` keeps the index of the catalogs a router has loaded, rebuilt only when
one of them was refreshed (a new :class:`~router.catalog.Catalog` object), never per
request: a catalog may hold thousands of models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from router.catalog import Catalog

__all__ = ["ContextLength", "KnownLengths", "LengthBook"]


class ContextLength(NamedTuple):
    """A context length, and whose catalog states it."""

    tokens: int
    """Total tokens (prompt + output)."""
    source: str | None = None
    """The deployment ref whose catalog states the figure when it is not the card's own
    catalog (a figure filled in from another provider); None: the card's own."""

    @property
    def borrowed(self) -> bool:
        """Whether the figure comes from another deployment's catalog."""
        return self.source is not None

    def describe(self) -> str:
        """``200,000``, or ``200,000 (from openrouter:anthropic/claude-sonnet-4.6)``."""
        where = f" (from {self.source})" if self.source is not None else ""
        return f"{self.tokens:,}{where}"


class KnownLengths:
    """The smallest context length stated per canonical model name across ``catalogs``
    (chat cards only), with the deployment that states it: on a tie, the first in the
    order given (the router's provider order, then catalog order)."""

    def __init__(self, catalogs: Iterable[Catalog]) -> None:
        smallest: dict[str, ContextLength] = {}
        for catalog in catalogs:
            for card in catalog.models:
                tokens = card.context_length
                if tokens is None or card.kind != "chat":
                    continue
                known = smallest.get(card.canonical)
                if known is None or tokens < known.tokens:
                    smallest[card.canonical] = ContextLength(tokens, card.ref)
        self._smallest = smallest

    def __len__(self) -> int:
        return len(self._smallest)

    def get(self, canonical: str) -> ContextLength | None:
        """The smallest stated context length of the model called ``canonical``, and the
        deployment stating it; None when no catalog states one."""
        return self._smallest.get(canonical)


EMPTY = KnownLengths(())


class LengthBook:
    """The :class:`KnownLengths` of every catalog a router holds, built once per refresh.

    ``held`` gives the catalogs already loaded, by provider name, without fetching
    anything (a router's providers' last good copies; None for one never fetched).
    """

    def __init__(self, held: Callable[[], Mapping[str, Catalog | None]] | None = None) -> None:
        self._held = held
        self._built: tuple[tuple[Catalog, ...], KnownLengths] = ((), EMPTY)
        """The catalogs the index was built from, and the index: replaced whole."""

    def current(self, loaded: Mapping[str, object] | None = None) -> KnownLengths:
        """The index over the held catalogs, plus any Catalog in ``loaded`` (a request's,
        by provider name) whose provider holds none: rebuilt only when one changed."""
        held = dict(self._held()) if self._held is not None else {}
        for name, catalog in (loaded or {}).items():
            if held.get(name) is None and isinstance(catalog, Catalog):
                held[name] = catalog
        catalogs = tuple(c for c in held.values() if c is not None)
        built, known = self._built  # read once: a rebuild replaces the tuple whole
        if len(built) == len(catalogs) and all(
            a is b for a, b in zip(built, catalogs, strict=True)
        ):
            return known
        # Two threads may both rebuild after a refresh: the same index, built twice.
        known = KnownLengths(catalogs)
        self._built = (catalogs, known)
        return known
