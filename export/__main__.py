import sys

from mnist_edge.export.cli import main

sys.exit(main())
