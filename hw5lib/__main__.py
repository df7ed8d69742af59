import sys

from hw5lib.publish.cli import main

sys.exit(main())
