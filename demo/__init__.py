"""``maatwerk-demo``: the whole system on one machine, playing the worked case.

Processes (each one as it runs in production, as a child process of the demo, started through
:mod:`sandbox`):

- the hub: ``maatwerk-hub run`` as broker user ``maatwerk-hub`` (short demo deadlines from an
  agreements file the demo writes, a 1-second watcher);
- the five agency adapters, the municipality adapter (gm0193, with its local HTTP API) and the
  Maatwerkloket adapter: ``maatwerk-adapter run NAME``, each as its own least-privilege
  broker user.

In the demo process itself (asyncio): the agencies' and the loket's back offices and the
webhooks of the municipality and the loket (:mod:`demo.offices`), and the people
(:mod:`demo.play`). The modules: :mod:`demo.options` (options, error), :mod:`demo.stage`
(set-up, processes, stopping), :mod:`demo.play` (the people and the case; its acts in
:mod:`demo.opening` and :mod:`demo.ladder`), :mod:`demo.run`
(signals and the run as a whole), :mod:`demo.cli` (the console script).
"""

from demo.options import DemoError, DemoOptions
from demo.run import run_demo

__all__ = ["DemoError", "DemoOptions", "run_demo"]
