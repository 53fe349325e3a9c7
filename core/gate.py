"""``python -m core.gate``: the CI regression gate (see ``core.regression.gate``)."""

import sys

from .regression.gate import main

if __name__ == "__main__":
    sys.exit(main())
