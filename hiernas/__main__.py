import sys

from hiernas.cli import main

sys.exit(main())
