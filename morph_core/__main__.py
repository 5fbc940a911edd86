import sys

from morph_core.cli import main

sys.exit(main())
