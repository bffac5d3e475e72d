"""`python -m pantry ...`: see pantry/cli.py."""

import sys

from .cli import main

sys.exit(main())
