import sys

from hw5lib.cli import main

sys.exit(main())
