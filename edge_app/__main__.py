import sys

from mnist_edge.edge_app.cli import main

sys.exit(main())
