import sys

from order_sync.imports.cli import main

sys.exit(main())
