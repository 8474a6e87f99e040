"""gunicorn's configuration file for this app: ``gunicorn -c python:gaistd_kg.web.gunicorn_conf server:app``.

Every name here is a gunicorn setting, taken from ``serving.settings()`` (the one table, which ``gaistd serve`` and
the test suite's server use too); options on the command line (``-b``, ``-w``, ``--threads``) override them.
"""

from gaistd_kg.web.serving import settings as _settings

globals().update(_settings())
