import sys

from mnist_edge.train.cli import main

sys.exit(main())
