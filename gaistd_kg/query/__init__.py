"""SPARQL with the safety rules, in one import: ``from gaistd_kg import query``.

``sparqltext`` reads and checks the text before any engine sees it; ``engine`` runs one query on the store; ``pool``
runs queries in worker processes (``worker``) under a deadline, a memory limit and no network; ``change`` computes a
write in such a worker; ``prefixes`` declares the well-known prefixes a typed query leaves out. Modules of this
package import each other, never this facade.
"""

from .engine import (CAP_LINK, DEFAULT_ROW_LIMIT, DEFAULT_TIMEOUT, FORMS, MAX_NESTING, UPDATE_KEYWORDS, Dataset,
                     QueryError, QueryInfo, QueryMemoryExceeded, QueryRefused, QuerySyntaxError, QueryTimeout,
                     QueryUnavailable, Result, annotate_capped, boolean_result, check_dataset, check_query,
                     check_update, dataset_options, execute, inspect, mentioned_iris, result_format, solutions_result,
                     tokens, triples_result, used_prefixes, with_using)
from .pool import QueryBusy, QueryPool, deny_network, pool_for_build
from .sparqltext import check_size
from .prefixes import Prepared, with_known_prefixes

__all__ = ["CAP_LINK", "DEFAULT_ROW_LIMIT", "DEFAULT_TIMEOUT", "FORMS", "MAX_NESTING", "UPDATE_KEYWORDS", "Dataset",
           "QueryError", "QueryInfo", "QueryMemoryExceeded", "QueryRefused", "QuerySyntaxError", "QueryTimeout",
           "QueryUnavailable", "Result", "annotate_capped", "boolean_result", "check_dataset", "check_query",
           "check_update", "dataset_options", "execute", "inspect", "mentioned_iris", "result_format",
           "solutions_result", "tokens", "triples_result", "used_prefixes", "with_using", "QueryBusy", "QueryPool",
           "deny_network", "pool_for_build", "Prepared", "with_known_prefixes", "check_size"]
