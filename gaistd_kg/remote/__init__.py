"""A remote SPARQL + Graph Store server: push a build to it (push), query it (client), read a pushed version as if
it were local (view)."""
