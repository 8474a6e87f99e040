"""``python -m gaistd_kg.cli``: the ``gaistd`` command."""

import sys

from .main import main

sys.exit(main())
