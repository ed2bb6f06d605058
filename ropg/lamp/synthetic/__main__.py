"""``python -m ropg.lamp.synthetic``: see :func:`ropg.lamp.synthetic.generate.main`."""

from __future__ import annotations

import sys

from ropg.lamp.synthetic.generate import main

if __name__ == "__main__":
    sys.exit(main())
