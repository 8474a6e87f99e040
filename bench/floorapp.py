"""The HTTP floor for ``overhead.py``: a WSGI app that answers every request with a fixed ``ASK`` result and does
nothing else, run under the same gunicorn, workers and client as ours. What a request costs before any of our code."""

BODY = b'{"head":{},"boolean":true}\n'


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/sparql-results+json"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
