import sys

from hw5lib.book.cli import main

sys.exit(main())
