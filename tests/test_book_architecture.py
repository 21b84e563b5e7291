"""diffsurr.book.architecture: Table 1 and the architecture figure come from the networks
themselves (a real forward pass, the layers' own tensors)."""

import pytest
import torch

from diffsurr.book import bookfig
from diffsurr.book import architecture as A
from diffsurr.nets import NN1, NN2, count_parameters


@pytest.mark.parametrize("make", [lambda: NN1(0.1, 0.1), lambda: NN2(0.1, 0.1, width=0.125),
                                  lambda: NN2(0.1, 0.1, width=0.25, head="relu")])
def test_parameters_and_shapes_are_the_networks(make):
    net = make()
    df = A.layers(net)
    assert df["parameters"].sum() == sum(p.numel() for p in net.parameters())
    assert df["parameters"].sum() == count_parameters(net)
    assert df["output"].iloc[-1] == tuple(net.eval()(torch.zeros(1, 1, 100, 100)).shape[1:])
    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert (df["kind"].isin(["Conv", "ConvT"])).sum() == len(convs)


def test_nn2_shapes_follow_the_preprints_sequence():
    df = A.layers(NN2(0.1, 0.1, width=0.125))
    sides = [o[1] for k, o in zip(df["kind"], df["output"]) if k in ("meanpool", "ConvT")]
    assert sides == [50, 25, 12, 6, 3, 3, 7, 13, 25, 51, 100]


def test_table1_at_two_widths():
    t = A.table1(0.25, "relu")
    full, scaled = ("Table 1 width", "parameters"), ("width 0.25", "parameters")
    assert t.loc[("NN1", ""), full] == 3075 == t.loc[("NN1", ""), scaled]
    assert t.loc[("NN2", ""), full] == count_parameters(NN2(0.1, 0.1)) == 50_290_243
    assert t.loc[("NN2", ""), scaled] == count_parameters(NN2(0.1, 0.1, width=0.25, head="relu"))
    last = t.loc["NN2"].iloc[-2]                       # Table 1's BatchNorm(1): not in relu
    assert last[("", "layer")] == "BatchNorm" and last[scaled] == "—"
    assert t.loc["NN2"].iloc[0][("", "layer")] == "Conv 3×3, 1→64"
    assert t.loc["NN2"].iloc[19][("", "layer")] == "ConvT 3×3, 2048→1024, stride 2, pad 0"
    assert t.loc["NN2"].iloc[0][("width 0.25", "output")] == "16 × 100 × 100"
    assert "6.3%" in A.totals_text(0.25, "relu", "reference")


def test_the_figure_is_legible():
    fig = A.figure(0.25, "relu")
    assert bookfig.small_text(fig) == []
    labels = {t.get_text() for t in fig.axes[0].texts}
    assert {"16", "512", "2048"} & labels == {"16", "512"}     # channels at width 0.25


def test_small_text_is_caught():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 3))
    ax.set_title("tiny", fontsize=8)
    shown = 8 * 110 / 72 * 672 / 1320 * 0.75             # 12-inch figure scaled to the column
    assert ("tiny", pytest.approx(shown, abs=0.01)) in bookfig.small_text(fig)
    plt.close(fig)
