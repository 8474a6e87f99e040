"""SPARQL with the safety rules: text inspection (sparqltext), running one query (engine), the worker pool (pool)
and the worker process (worker)."""
