"""A document is validated once: later requests with the same text hit the validation cache.

The limit rules (depth, aliases, directives) are part of the cache's key. Were they a new rule
class per request, as QueryDepthLimiter and MaxAliasesLimiter make on every instantiation, every
request would miss and validate its document anew (a tenth of a partner read's time).
"""

from __future__ import annotations

import gc
import weakref

from schema.core.limits import MAX_DEPTH, document_checks
from schema.schema import CACHE_SIZE, build_schema


def test_the_second_request_with_a_document_skips_validation() -> None:
    schema = build_schema()
    cache = document_checks(CACHE_SIZE)
    document = "query ValidatedOnce { __typename }"

    assert schema.execute_sync(document).errors is None
    first = (cache.hits, cache.misses)
    assert schema.execute_sync(document).errors is None
    second = (cache.hits, cache.misses)

    assert second[1] == first[1]
    assert second[0] == first[0] + 1


def test_the_cached_rules_still_refuse_a_document_too_deep() -> None:
    schema = build_schema()
    deep = "query TooDeep " + "{ viewer " * (MAX_DEPTH + 2) + "}" * (MAX_DEPTH + 2)

    for _ in range(2):
        result = schema.execute_sync(deep)
        assert result.errors
        assert any("exceeds maximum operation depth" in e.message for e in result.errors), result.errors


def test_a_schema_that_is_gone_leaves_nothing_in_the_cache() -> None:
    # Given a schema that validated a document, then is dropped
    schema = build_schema()
    assert schema.execute_sync("query Kept { __typename }").errors is None
    graphql_schema = weakref.ref(schema._schema)
    del schema
    gc.collect()
    # Then the cache did not keep it (it held every schema a process built: the tests make one
    # per app, and hundreds of them stayed alive)
    assert graphql_schema() is None
