import sys

from deecho.cli import main

sys.exit(main())
