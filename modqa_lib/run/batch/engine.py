"""A papermill engine that writes the executed notebook once, not before and after every cell.

papermill's default engine saves the output notebook at the start and end of
every cell (markdown cells included) so that a long run can be watched. Each
save serialises and validates the whole notebook, charts included: a report of
about 70 cells and 1 MB spends 1.5-2.5 s per unit in these saves, on the
critical path of every batch unit. Nobody watches a batch unit's notebook while
it runs (it is written to a temporary file and published when the unit is
done), so :class:`FinalSaveEngine` skips the per-cell saves: papermill itself
writes the finished notebook (also when a cell raised), and the engine writes
what was executed when execution stops otherwise (a dead kernel, a timeout),
so the notebook still shows the last cell that ran. Cells, outputs and
papermill's metadata are exactly those of the default engine.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENGINE_NAME", "register_engine"]

#: the name the engine is registered under (``papermill.execute_notebook(engine_name=...)``)
ENGINE_NAME = "modqa-final-save"

_REGISTERED: list[bool] = []


def register_engine() -> str:
    """Register :data:`ENGINE_NAME` with papermill (once per process) and return the name.

    Returns
    -------
    str
        :data:`ENGINE_NAME`.

    References
    ----------
    .. [1] papermill, "Extending papermill: engines",
       https://papermill.readthedocs.io/en/latest/extending-entry-points.html
    """
    if not _REGISTERED:
        from papermill.engines import papermill_engines

        papermill_engines.register(ENGINE_NAME, _engine_class())
        _REGISTERED.append(True)
    return ENGINE_NAME


def _engine_class() -> type:
    from papermill.engines import NBClientEngine, NotebookExecutionManager
    from papermill.iorw import write_ipynb

    class _FinalSaveManager(NotebookExecutionManager):
        def save(self, **kwargs: Any) -> None:  # no per-cell saves (the timer papermill keeps still runs)
            self.last_save_time = self.now()

        def write(self) -> None:
            if self.output_path:
                write_ipynb(self.nb, self.output_path)

    class FinalSaveEngine(NBClientEngine):
        @classmethod
        def execute_notebook(
            cls,
            nb,
            kernel_name,
            output_path=None,
            progress_bar=True,
            log_output=False,
            autosave_cell_every=30,
            **kwargs,
        ):
            nb_man = _FinalSaveManager(
                nb,
                output_path=output_path,
                progress_bar=progress_bar,
                log_output=log_output,
                autosave_cell_every=autosave_cell_every,
            )
            nb_man.notebook_start()
            done = False
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
                done = True
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
                if not done:  # papermill will not write it: keep what ran
                    nb_man.write()
            return nb_man.nb

    return FinalSaveEngine
