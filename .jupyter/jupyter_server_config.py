# JupyterLab settings for `make lab`: tracked notebooks are saved without outputs
# (see modqa_lib/run/lab.py), so exploring never dirties the repository.
from modqa_lib.run.lab import strip_outputs_hook

c = get_config()  # noqa: F821  (provided by Jupyter when it loads this file)
c.FileContentsManager.pre_save_hook = strip_outputs_hook
