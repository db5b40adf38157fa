"""Context lengths a catalog does not state, filled from the same model at another provider.

Some catalogs state no context length (every PipeLLM model); another provider's catalog
often states one for the same model (``openrouter:anthropic/claude-sonnet-4.6`` for
``pipellm:claude-sonnet-4-6``: the same :attr:`~router.catalog.ModelCard.canonical` name).
:class:`KnownLengths` indexes, once per set of catalogs, the context lengths they state
per canonical name, and which deployment states each; a card is lent the **smallest**: the
safe figure when providers disagree (a provider may serve a model with a shorter window
than its maker's), unless the card's own catalog contradicts it (a price tier for
prompts longer than the figure). The cards themselves are never changed: a catalog is its
provider's statement, and a figure filled in from elsewhere says where it came from
(:class:`ContextLength`).

:class:`LengthBook` keeps the index of the catalogs a router has loaded, rebuilt only when
one of them was refreshed (a new :class:`~router.catalog.Catalog` object), never per
request: a catalog may hold thousands of models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from router.catalog import Catalog, ModelCard

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
    """The context lengths stated per canonical model name across ``catalogs`` (chat
    cards only), smallest first, each with the deployment that states it: on a tie, the
    first in the order given (the router's provider order, then catalog order)."""

    def __init__(self, catalogs: Iterable[Catalog]) -> None:
        stated: dict[str, list[ContextLength]] = {}
        for catalog in catalogs:
            for card in catalog.models:
                tokens = card.context_length
                if tokens is not None and card.kind == "chat":
                    stated.setdefault(card.canonical, []).append(ContextLength(tokens, card.ref))
        # sorted by tokens alone: a stable sort keeps the given order among equal figures
        self._stated = {
            name: tuple(sorted(figures, key=lambda f: f.tokens)) for name, figures in stated.items()
        }

    def __len__(self) -> int:
        return len(self._stated)

    def get(self, canonical: str, above: int = 0) -> ContextLength | None:
        """The smallest context length stated for the model called ``canonical`` that is
        over ``above`` tokens, and the deployment stating it; None when none is."""
        for figure in self._stated.get(canonical, ()):
            if figure.tokens > above:
                return figure
        return None

    def lend(self, card: ModelCard) -> ContextLength | None:
        """The figure lent to ``card`` (whose own catalog states none): the smallest stated
        for its canonical model that its own catalog does not contradict. A price tier for
        prompts over N tokens (PipeLLM's ``over_200k``) says the deployment takes more than
        N: a smaller figure from elsewhere is another provider's window, not this one's."""
        pricing = card.pricing
        floor = max((t.above_prompt_tokens for t in pricing.tiers), default=0) if pricing else 0
        return self.get(card.canonical, floor)


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
