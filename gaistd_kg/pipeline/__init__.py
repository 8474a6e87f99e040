"""The build pipeline: load → validate (SHACL, query checks) → reason (OWL 2 RL) → publish.

Used by the in-memory build, the streaming build and accepted writes."""
