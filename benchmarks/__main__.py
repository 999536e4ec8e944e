import sys

from mnist_edge.benchmarks.cli import main

sys.exit(main())
