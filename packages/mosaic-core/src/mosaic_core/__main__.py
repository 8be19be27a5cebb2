import sys

from mosaic_core.cli import main

sys.exit(main())
