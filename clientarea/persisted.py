"""Persisted documents: automatic persisted queries as Apollo Client and urql send them, and the
trusted documents a deploy registers from the dashboard's manifest.

Documents live in the database, keyed by their SHA-256, so every worker knows what any worker
was told. With `TRUSTED_DOCUMENTS_ONLY` a cookie session may run only trusted documents.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, GraphQLSchema, parse, validate
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clientarea.graphql_http import GraphQLParams, Refused, bad_request
from models.database import Database
from models.persisted_documents import PersistedDocument

APQ_VERSION = 1
APOLLO_MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True)
class Document:
    """The text to execute; `register` is the hash to remember once it proves a valid document."""

    query: str | None
    register: str | None = None


def _persisted_hash(extensions: dict[str, Any] | None) -> str | None:
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise bad_request("`extensions.persistedQuery` must be an object.")
    if persisted.get("version") != APQ_VERSION:
        raise Refused(
            f"Only version {APQ_VERSION} of persisted queries is supported.",
            "PERSISTED_QUERY_NOT_SUPPORTED",
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.match(digest):
        raise bad_request("`extensions.persistedQuery.sha256Hash` must be a hex SHA-256.")
    return digest.lower()


async def _lookup(db: Database, digest: str) -> PersistedDocument | None:
    async with db.read() as session:
        return await session.get(PersistedDocument, digest)


async def resolve_document(db: Database, params: GraphQLParams, *, trusted_only: bool) -> Document:
    """The document a request runs: its own `query`, or the one its persisted-query hash names.

    `trusted_only` (a cookie session when trusted documents are required) accepts nothing but a
    trusted document, by hash or by identical text."""
    digest = _persisted_hash(params.extensions)
    if digest is None:
        if trusted_only and params.query is not None:
            await _require_trusted(db, sha256_hex(params.query))
        return Document(params.query)
    if params.query is not None:
        if sha256_hex(params.query) != digest:
            raise Refused(
                "The query does not match `extensions.persistedQuery.sha256Hash`.",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        if trusted_only:
            await _require_trusted(db, digest)
            return Document(params.query)
        return Document(params.query, register=digest)
    row = await _lookup(db, digest)
    if row is None:
        # Apollo Client and urql look for this message or code, then send the query with the hash.
        raise Refused("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
    if trusted_only and not row.trusted:
        raise _not_trusted()
    return Document(row.document)


async def _require_trusted(db: Database, digest: str) -> None:
    row = await _lookup(db, digest)
    if row is None or not row.trusted:
        raise _not_trusted()


def _not_trusted() -> Refused:
    return Refused(
        "A signed-in browser session may only run the dashboard's registered operations.",
        "PERSISTED_QUERY_NOT_IN_LIST",
        status=403,
    )


def _insert(db: Database) -> Any:
    return (sqlite_insert if db.is_sqlite else postgresql_insert)(PersistedDocument)


async def register(db: Database, digest: str, document: str, *, keep: int) -> None:
    """Remembers a client's document; the first of concurrent registrations wins, the rest agree.

    At most `keep` client documents are kept, the newest: anyone may register documents, and a
    client whose document was dropped only sends it once more."""
    statement = (
        _insert(db)
        .values(sha256=digest, document=document, trusted=False)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    async with db.begin() as session:
        inserted = (await session.execute(statement)).rowcount  # type: ignore[attr-defined]
        if inserted:
            oldest = (
                select(PersistedDocument.sha256)
                .where(PersistedDocument.trusted.is_(False))
                .order_by(PersistedDocument.created_at.desc(), PersistedDocument.sha256)
                .offset(keep)
            )
            await session.execute(delete(PersistedDocument).where(PersistedDocument.sha256.in_(oldest)))


# --- manifests -----------------------------------------------------------------------------


class ManifestError(Exception):
    """A manifest that cannot be loaded; nothing of it was stored."""


def documents_from_manifest(data: Any) -> dict[str, str]:
    """Hash → document from Apollo's `persisted-query-manifest` JSON or a plain JSON object of
    hash → document (GraphQL Code Generator's and Relay's persisted documents)."""
    pairs: list[tuple[Any, Any]]
    if isinstance(data, dict) and data.get("format") == APOLLO_MANIFEST_FORMAT:
        if data.get("version") != 1 or not isinstance(data.get("operations"), list):
            raise ManifestError("an Apollo manifest must have version 1 and a list of operations")
        operations = data["operations"]
        if not all(isinstance(o, dict) for o in operations):
            raise ManifestError("every operation of an Apollo manifest must be an object")
        pairs = [(o.get("id"), o.get("body")) for o in operations]
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise ManifestError("a manifest is a JSON object: hash → document, or Apollo's format")
    documents: dict[str, str] = {}
    for digest, document in pairs:
        if not isinstance(digest, str) or not isinstance(document, str):
            raise ManifestError("every entry needs a string hash and a string document")
        if sha256_hex(document) != digest.lower():
            raise ManifestError(f"{digest} is not the SHA-256 of its document")
        documents[digest.lower()] = document
    if not documents:
        raise ManifestError("the manifest holds no documents")
    return documents


def check_documents(schema: GraphQLSchema, documents: dict[str, str]) -> None:
    """Every document must parse and validate against this server's schema."""
    for digest, document in documents.items():
        try:
            errors = validate(schema, parse(document))
        except GraphQLError as error:
            errors = [error]
        if errors:
            raise ManifestError(f"{digest}: {errors[0].message}")


async def load_trusted(db: Database, documents: dict[str, str], *, replace: bool = False) -> int:
    """Marks the documents trusted (adding those not known yet) in one transaction; `replace` also
    withdraws trust from every document not in this manifest."""
    statement = _insert(db).values(
        [{"sha256": digest, "document": text, "trusted": True} for digest, text in documents.items()]
    )
    statement = statement.on_conflict_do_update(index_elements=["sha256"], set_={"trusted": True})
    async with db.begin() as session:
        if replace:
            await session.execute(
                update(PersistedDocument)
                .where(PersistedDocument.trusted.is_(True), PersistedDocument.sha256.not_in(documents))
                .values(trusted=False)
            )
        await session.execute(statement)
        trusted = await session.scalars(
            select(PersistedDocument.sha256).where(PersistedDocument.trusted.is_(True))
        )
        return len(trusted.all())
