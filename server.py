"""The WSGI entry point: ``gunicorn server:app``, or ``python server.py [host] [port]`` for a local server."""

import os
import sys

from gaistd_kg.web import create_app

app = create_app()

if __name__ == "__main__":
    host = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("GAISTD_HOST", "127.0.0.1")
    port = int(sys.argv[2] if len(sys.argv) > 2 else os.environ.get("GAISTD_PORT", "8000"))
    app.run(host=host, port=port, threaded=True)
