"""A '$' in a data label is drawn as text, never parsed as mathtext (issue 12)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import pandas as pd

from modqa_lib.contract import schema as S
from modqa_lib.report import plots


def test_dollar_in_site_name_renders_literally():
    plots.set_style()
    t = pd.DataFrame(
        {
            S.SITE: ["Cash$ite", "A$B$C", "$5 queue"],
            S.N: [100, 120, 90],
            S.ACCURACY: [0.9, 0.95, 0.97],
            S.CI_LOW: [0.85, 0.9, 0.93],
            S.CI_HIGH: [0.94, 0.98, 0.99],
            "status": ["missed", "at risk", "met"],
        }
    )
    fig = plots.forest(t, S.SITE, target=0.95, title="Vendor $ report")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # used to raise: mathtext parse error on an unbalanced '$'
    labels = [lab.get_text() for lab in fig.axes[0].get_yticklabels()]
    assert any(lab.startswith("Cash$ite") for lab in labels)
    assert plt.rcParams["text.parse_math"] is False
    plt.close(fig)
