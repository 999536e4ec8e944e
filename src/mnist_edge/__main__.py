import signal
import sys

# First of all, before any import: an ignored SIGTERM inherited from the parent would discard a
# stop sent while the command loads (cli.main resets it too, for the console script).
if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

from mnist_edge.cli import main

sys.exit(main())
