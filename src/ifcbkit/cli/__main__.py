"""``python -m ifcbkit.cli``: the ``ifcbkit`` command."""

import sys

from . import main

sys.exit(main())
