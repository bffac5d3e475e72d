"""Kitchen knowledge: ingredients, pantry text, diets.

Imports only `pantry.domain` (and `pantry.errors`, `pantry.base`). Everything outside the
package imports from here (`from pantry.kitchen import read_pantry`), never from its modules.
"""

from pantry.kitchen.knowledge import *  # noqa: F401,F403
from pantry.kitchen.knowledge import __all__  # noqa: F401
