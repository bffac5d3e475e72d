"""`python -m pantry ...`: see pantry/cli.py."""

import sys

from pantry.cli import main

sys.exit(main())
