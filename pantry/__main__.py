"""`python -m pantry ...`: see pantry/cli/."""

import sys

from pantry.cli import main

sys.exit(main())
