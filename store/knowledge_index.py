"""The Chroma index of knowledge passages (operator documents), shared or per tenant.

Passages added without a tenant (the operations manual) are found by every tenant;
a tenant's own passages only by that tenant.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from store.vector import KNOWLEDGE_COLLECTION, Embedder, _client, _collection, _rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnowledgeHit:
    """A knowledge passage found by a search."""

    passage_id: str
    text: str
    source: str
    heading: str
    distance: float


class KnowledgeIndex:
    """Passages of operator documents (manuals, procedures) in the `knowledge` collection.

    A document is either shared (the service's operations manual: every tenant's
    explanations may quote it) or a tenant's own (only that tenant's searches find it).
    Not derived from SQL: `imon reindex` leaves it alone.
    """

    def __init__(self, path: Path, embedder: Embedder) -> None:
        self._client = _client(path)
        self._embedder = embedder
        self._collection = _collection(self._client, KNOWLEDGE_COLLECTION)
        self._adopt_unscoped()

    def _adopt_unscoped(self) -> None:
        """Mark passages indexed before documents had a scope as shared (what they were)."""
        found = self._collection.get(include=["metadatas"])
        old = [
            (ident, dict(meta or {}))
            for ident, meta in zip(found["ids"], found["metadatas"] or [], strict=True)
            if "shared" not in (meta or {})
        ]
        if old:
            self._collection.update(
                ids=[ident for ident, _ in old],
                metadatas=[meta | {"shared": True, "tenant": ""} for _, meta in old],
            )
            logger.info("%d knowledge passages without a scope marked shared", len(old))

    def replace_source(
        self, source: str, passages: Sequence[tuple[str, str]], tenant: str | None = None
    ) -> int:
        """Replace the passages of document `source` by (heading, text) pairs; returns count.

        `tenant` None stores a shared document; a name stores that tenant's own document
        (replacing only that tenant's document of the same name).
        """
        if tenant == "":
            raise ValueError("tenant: empty; give a tenant name, or None for a shared document")
        self._collection.delete(where={"$and": [{"source": source}, _scope(tenant)]})
        if not passages:
            return 0
        prefix = "shared" if tenant is None else f"tenant:{len(tenant)}:{tenant}"
        embedded = [f"{heading}\n{text}" if heading else text for heading, text in passages]
        self._collection.add(
            ids=[f"{prefix}:{source}#{n}" for n in range(len(passages))],
            embeddings=self._embedder.embed(embedded),
            documents=[text for _heading, text in passages],
            metadatas=[
                {
                    "source": source,
                    "heading": heading,
                    "position": n,
                    "shared": tenant is None,
                    "tenant": tenant or "",
                }
                for n, (heading, _text) in enumerate(passages)
            ],
        )
        return len(passages)

    def search(self, text: str, limit: int = 3, tenant: str | None = None) -> list[KnowledgeHit]:
        """Shared passages and `tenant`'s own nearest to `text`, nearest first."""
        total = self._collection.count()
        if total == 0:
            return []
        where: dict[str, Any] = {"shared": True}
        if tenant:
            where = {"$or": [where, {"tenant": tenant}]}
        result = self._collection.query(
            query_embeddings=self._embedder.embed([text]),
            n_results=min(limit, total),
            where=where,
        )
        return [
            KnowledgeHit(ident, doc, str(meta.get("source", "")), str(meta.get("heading", "")), d)
            for ident, doc, d, meta in _rows(result)
        ]

    def for_tenant(self, tenant: str) -> TenantKnowledge:
        """The view of the index one tenant's tools get: shared passages and its own."""
        return TenantKnowledge(self, tenant)

    def documents(self) -> list[tuple[str, str, int]]:
        """(tenant or "" for shared, document name, passages) of every document."""
        counts: dict[tuple[str, str], int] = {}
        for meta in self._collection.get(include=["metadatas"])["metadatas"] or []:
            key = (str((meta or {}).get("tenant", "")), str((meta or {}).get("source", "")))
            counts[key] = counts.get(key, 0) + 1
        return [(tenant, source, n) for (tenant, source), n in sorted(counts.items())]

    def sources(self) -> dict[str, int]:
        """Document names and how many passages each has (shared and tenants' together)."""
        counts: dict[str, int] = {}
        for _tenant, source, n in self.documents():
            counts[source] = counts.get(source, 0) + n
        return counts

    def delete_tenant(self, tenant: str) -> int:
        """Delete every passage of `tenant`'s own documents; returns how many."""
        if not tenant:
            raise ValueError("tenant: empty; shared documents are not deleted with a tenant")
        found = self._collection.get(where={"tenant": tenant}, include=[])
        if found["ids"]:
            self._collection.delete(ids=found["ids"])
        return len(found["ids"])

    def count(self) -> int:
        """How many passages are indexed."""
        return int(self._collection.count())


def _scope(tenant: str | None) -> dict[str, Any]:
    return {"shared": True} if tenant is None else {"tenant": tenant}


@dataclass(frozen=True)
class TenantKnowledge:
    """A tenant's view of the knowledge index: `search` never returns another tenant's."""

    index: KnowledgeIndex
    tenant: str

    def search(self, text: str, limit: int = 3) -> list[KnowledgeHit]:
        """Shared passages and this tenant's own nearest to `text`."""
        return self.index.search(text, limit, tenant=self.tenant)
