import sys

from qpbench.cli import main

sys.exit(main())
