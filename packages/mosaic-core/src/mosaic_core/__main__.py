import sys

from mosaic_core.cli.app import main

sys.exit(main())
