"""`runner cluster`: a Dask scheduler and workers on this machine, to try --addr without a cluster."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

DEFAULT_PORT = 8786  # Dask's own default scheduler port


def serve(
    workers: int,
    threads: int,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    on_ready: Callable[[str], None],
    stop: threading.Event | None = None,
) -> None:
    """Start a scheduler and `workers` worker processes (distributed's LocalCluster, each
    worker under a nanny that restarts it if it dies), call `on_ready` with the scheduler's
    address, and keep them until Ctrl-C (or `stop` is set); then stop them all."""
    from distributed import LocalCluster

    # Ctrl-C reaches every process of the terminal's group: the worker processes ignore it
    # (they inherit that from here while they start), and this one closes them in order.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=threads,
            processes=True,
            host=host,
            scheduler_port=port,
            dashboard_address=":0",  # any free port: never refused for 8787 in use
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        on_ready(cluster.scheduler_address)
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
