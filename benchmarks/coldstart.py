"""Cold start: a fresh process imports the runtime, loads the model and reads one digit.

The parent times from spawning this process to the line it prints, so interpreter start-up,
imports, model load and the first prediction are all in the figure; peak RSS is this process'.
"""

from __future__ import annotations

import json
import sys

from mnist_edge.core.sysinfo import peak_rss_mb


def main() -> int:
    spec = json.loads(sys.argv[1])
    import numpy as np

    digit = np.load(spec["inputs"])["images"][:1]
    if spec["runtime"] == "keras":
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import keras

        model = keras.models.load_model(spec["model"], compile=False)
        model.predict(digit.reshape(1, 28, 28, 1), verbose=0)
    else:
        from mnist_edge.edge_app.runtime import load_model

        load_model(spec["model"], spec["runtime"], spec["threads"]).run(digit[0])
    sys.stdout.write("@@RESULT@@" + json.dumps({"peak_rss_mb": peak_rss_mb()}) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
