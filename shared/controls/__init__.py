"""The controls register: every pre-trade and post-trade control, what it does when it
trips, the setting that bounds it and the test that proves it.

One declarative list, read by `cryptoorch controls` (which adds the limit in force from each
service's settings) and by the generator of `docs/controls.md` (`make controls`). It holds
names only, no service code (shared never imports a service); unit tests keep it honest:
every safety rule has a control here, every `setting` is a field of its service's settings,
and every `test` is a test that exists (tests/unit/test_controls_register.py).

The register is kept in three parts, concatenated here in the order the document shows:
`order_admission` (whether an order may be sent at all), `limits` (the numbers an order,
a withdrawal or a cancel must stay within) and `post_trade` (what happens after fills).
A `Control` is declared in `control`.
"""

from __future__ import annotations

from shared.controls.control import Control
from shared.controls.limits import LIMITS
from shared.controls.order_admission import ORDER_ADMISSION
from shared.controls.post_trade import POST_TRADE

CONTROLS: tuple[Control, ...] = (*ORDER_ADMISSION, *LIMITS, *POST_TRADE)
"""In the order safety runs its rules, then the other services' controls and the post-trade ones."""
