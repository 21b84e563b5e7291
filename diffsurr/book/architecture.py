"""The networks themselves: the preprint's Table 1 (layers, output shapes, parameters) and its
Figs. 2–3 (architecture sketch), generated from :mod:`diffsurr.nets`.

Every output shape comes from a forward pass of a 1×1×100×100 input with a forward hook on
each layer, and every parameter count from the layer's own tensors, so the table describes the
networks the study trains, at Table 1's width and at a profile's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..nets import GRID, NN1, NN2, count_parameters

KINDS = {nn.Conv2d: "Conv", nn.ConvTranspose2d: "ConvT", nn.AvgPool2d: "meanpool",
         nn.LeakyReLU: "LReLU", nn.ReLU: "ReLU", nn.BatchNorm2d: "BatchNorm",
         nn.Dropout: "Dropout"}
"""Table 1's names of the layer kinds (the nets' fast-path layers are subclasses of these)."""
COLOURS = {"Conv": "#4c72b0", "ConvT": "#dd8452", "meanpool": "#55a868", "input": "#8c8c8c"}
"""Block colours of the architecture figure, by layer kind."""


def kind(module: nn.Module) -> str:
    """The layer's kind as Table 1 names it (:data:`KINDS`), else its class name."""
    return next((name for cls, name in KINDS.items() if isinstance(module, cls)),
                type(module).__name__)


def describe(module: nn.Module) -> str:
    """A layer as Table 1 writes it: "Conv 3×3, 1→4", "ConvT 3×3, 2048→1024, stride 2, pad 0"
    (stride and padding only where they are not 1 and "same"), "meanpool 2", "LReLU 0.01"."""
    name = kind(module)
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        k, s, p = module.kernel_size[0], module.stride[0], module.padding[0]
        extra = "" if (s, p) == (1, (k - 1) // 2) else f", stride {s}, pad {p}"
        return f"{name} {k}×{k}, {module.in_channels}→{module.out_channels}{extra}"
    if isinstance(module, nn.AvgPool2d):
        return f"{name} {module.kernel_size}"
    if isinstance(module, nn.LeakyReLU):
        return f"{name} {module.negative_slope:g}"
    return name


def layers(net: nn.Module, size: int = GRID) -> pd.DataFrame:
    """One row per layer of ``net`` in the order a 1×1×``size``×``size`` input passes them:
    kind, description, output shape (C, H, W) seen by a forward hook, and the layer's own
    parameter count."""
    rows, hooks = [], []
    leaves = [m for m in net.modules() if not list(m.children())]

    def hook(module, _inputs, out):
        rows.append({"kind": kind(module),
                     "layer": describe(module), "output": tuple(out.shape[1:]),
                     "parameters": sum(p.numel() for p in module.parameters(recurse=False))})

    for m in leaves:
        hooks.append(m.register_forward_hook(hook))
    was = net.training
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, 1, size, size))
    finally:
        net.train(was)
        for h in hooks:
            h.remove()
    return pd.DataFrame(rows)


def shape_text(shape: tuple) -> str:
    """(C, H, W) as Table 1 writes an output shape: "C × H × W"."""
    return " × ".join(map(str, shape))


def table1(width: float, head: str) -> pd.DataFrame:
    """Table 1 from the networks: NN1's layers, then NN2's at Table 1's width (head "table1")
    and, side by side, at ``width`` with ``head``; the last row of each network its total
    (checked against :func:`diffsurr.nets.count_parameters`). A layer one NN2 lacks (the
    final BatchNorm of the "table1" head) shows "—" in the other's columns. The layer column
    gives Table 1's channel counts; the output shapes give each width's."""
    nn1 = layers(NN1(0.1, 0.1))
    full, scaled = layers(NN2(0.1, 0.1)), layers(NN2(0.1, 0.1, width=width, head=head))
    for net, df in ((NN1(0.1, 0.1), nn1), (NN2(0.1, 0.1), full),
                    (NN2(0.1, 0.1, width=width, head=head), scaled)):
        assert df["parameters"].sum() == count_parameters(net)
    cols = [("", "layer"), ("Table 1 width", "output"), ("Table 1 width", "parameters"),
            (f"width {width:g}", "output"), (f"width {width:g}", "parameters")]
    parts = []
    for name, a, b in (("NN1", nn1, nn1), ("NN2", full, scaled)):
        n = max(len(a), len(b))
        rows = []
        for i in range(n):
            ra = a.iloc[i] if i < len(a) else None
            rb = b.iloc[i] if i < len(b) and (ra is None or b.iloc[i]["kind"] == ra["kind"]) \
                else None
            rows.append([(ra if ra is not None else rb)["layer"],
                         shape_text(ra["output"]) if ra is not None else "—",
                         int(ra["parameters"]) if ra is not None else "—",
                         shape_text(rb["output"]) if rb is not None else "—",
                         int(rb["parameters"]) if rb is not None else "—"])
        rows.append(["total", "", int(a["parameters"].sum()), "", int(b["parameters"].sum())])
        parts.append(pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(cols),
                                  index=pd.MultiIndex.from_product([[name], range(1, n + 2)])))
    out = pd.concat(parts)
    out.index = pd.MultiIndex.from_tuples(
        [(net, "" if k == len(out.loc[net]) else k) for net, k in out.index])
    return out


def totals(width: float, head: str) -> dict[str, int]:
    """Trainable parameters of NN1, and of NN2 at Table 1's width and at ``width``."""
    return {"NN1": count_parameters(NN1(0.1, 0.1)),
            "NN2": count_parameters(NN2(0.1, 0.1)),
            "NN2 scaled": count_parameters(NN2(0.1, 0.1, width=width, head=head))}


def totals_text(width: float, head: str, profile_name: str) -> str:
    """The totals, against the preprint's and the share of NN2 the profile trains."""
    t = totals(width, head)
    return (f"NN1 has {t['NN1']:,} trainable parameters and NN2 {t['NN2']:,} at Table 1's "
            f"width; the `{profile_name}` profile's NN2 (width {width:g}, {head} head) has "
            f"{t['NN2 scaled']:,}, {t['NN2 scaled'] / t['NN2']:.1%} of them. Shapes are "
            "measured by passing one 1 × 100 × 100 input through each network.")


def figure(width: float = 1.0, head: str = "table1"):
    """The preprint's Figs. 2–3 from :func:`layers`: the input passes NN1 (six convs keeping
    N × N) and NN2 (convs and meanpools down to 1 × 1, transposed convs back up); the output
    is p1·ŷ1 + p2·ŷ2. One block per Conv, ConvT or meanpool, its height growing with the
    output's side; above a conv block its output channels, below it the output's side."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, Rectangle

    rows = {"NN1": layers(NN1(0.1, 0.1)), "NN2": layers(NN2(0.1, 0.1, width=width, head=head))}
    fig = Figure(figsize=(7.0, 3.3))
    ax = fig.subplots()
    fig.subplots_adjust(0.01, 0.1, 0.99, 0.99)
    mid = {"NN1": 3.2, "NN2": 0.0}
    ends = {}
    for name, df in rows.items():
        x = 2.0
        for _, r in df[df["kind"].isin(["Conv", "ConvT", "meanpool"])].iterrows():
            c, side = r["output"][0], r["output"][1]
            pool = r["kind"] == "meanpool"
            bw = 0.35 if pool else 0.6
            bh = 0.3 + 1.5 * np.log10(side + 1) / np.log10(GRID + 1)
            ax.add_patch(Rectangle((x, mid[name] - bh / 2), bw, bh, color=COLOURS[r["kind"]],
                                   alpha=0.85, lw=0))
            if not pool:
                ax.text(x + bw / 2, mid[name] + bh / 2 + 0.05, f"{c}", ha="center",
                        va="bottom", fontsize=9, rotation=90 if c >= 100 else 0)
            ax.text(x + bw / 2, mid[name] - bh / 2 - 0.05, f"{side}", ha="center", va="top",
                    fontsize=9, rotation=90)
            x += bw + 0.2
        ends[name] = x
        ax.text(2.0, mid[name] + (1.5 if name == "NN1" else -1.75), name, fontsize=11,
                fontweight="bold", va="center")
    ax.add_patch(Rectangle((0.1, 0.4), 1.2, 2.4, color=COLOURS["input"], alpha=0.6, lw=0))
    ax.text(0.7, 1.6, "x\n1 × 100²", ha="center", va="center", fontsize=9)
    right = max(ends.values()) + 0.4
    ax.text(right + 0.2, 1.6, "ŷ = p₁ŷ₁\n   + p₂ŷ₂", ha="left", va="center", fontsize=10)
    for name, end in ends.items():
        ax.add_patch(FancyArrowPatch((1.3, 1.6), (1.95, mid[name]), arrowstyle="->",
                                     mutation_scale=10, color="0.3"))
        ax.add_patch(FancyArrowPatch((end, mid[name]), (right + 0.15, 1.6), arrowstyle="->",
                                     mutation_scale=10, color="0.3"))
        ax.text(end + 0.2, mid[name] + (0.3 if name == "NN1" else -0.45),
                "× p₁" if name == "NN1" else "× p₂", fontsize=9)
    handles = [Rectangle((0, 0), 1, 1, color=COLOURS[k], alpha=0.85)
               for k in ("Conv", "meanpool", "ConvT")]
    ax.legend(handles, ["Conv + activation", "meanpool 2", "ConvT + activation"],
              loc="upper right", fontsize=9, frameon=False)
    ax.set_xlim(0, right + 2.2)
    ax.set_ylim(-2.2, 5.0)
    ax.axis("off")
    return fig
