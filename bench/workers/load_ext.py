"""Time ``%load_ext NAME`` in this fresh process: ``python load_ext.py NAME``.

Only the ``load_ext`` call is timed; creating the InteractiveShell (and importing IPython)
happens before. Prints one JSON line: seconds, and the cell magics registered afterwards.
Imports nothing but IPython, so it runs in any venv.
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("IPYTHONDIR", os.path.join(tempfile.gettempdir(), "memories-bench-ipython"))

from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

config = Config()
config.HistoryManager.enabled = False
shell = InteractiveShell.instance(config=config)
started = time.perf_counter()
shell.run_line_magic("load_ext", sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "cell_magics": sorted(shell.magics_manager.magics["cell"])}))
