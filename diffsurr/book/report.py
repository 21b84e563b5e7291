"""Helpers the book's pages use: which profile they show, its banner, Table 2, captions.

Every page starts with::

    from diffsurr.book import report
    profile, why = report.book_profile()
    report.show_banner(profile, why)       # boxed report.banner(): which run made the numbers

and reads its numbers only through the loaders of :mod:`diffsurr.results`, so that every
figure and every number in the text comes from ``results/<profile>/`` at build time.

The profile is ``$DIFFSURR_PROFILE`` when set, else ``diffsurr.profiles.get_profile("auto")``
(``paper`` with CUDA, ``ci`` without). The results root is ``$DIFFSURR_RESULTS`` or
``<repo>/results`` (:func:`diffsurr.runid.results_root`).

Figures are glued with their caption by :func:`diffsurr.book.bookfig.glue_figure`; the
caption is built by :func:`caption`, so that every caption names the preprint figure, the
profile and the data.
"""

from __future__ import annotations

import io as _io
import os
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from ..profiles import PROFILES, Profile, get_profile
from ..registry import MODELS, spec, table2_frame
from ..runid import RunId, data_path, results_dir, run_label
from ..results import display_path, load_attrs, load_data, run_dir, study_progress
from ..statistics import output_std

PROFILE_ENV = "DIFFSURR_PROFILE"
NN1_ONLY = tuple(m for m in MODELS if spec(m).p2 == 0)        # models 6, 7
WITH_NN2 = tuple(m for m in MODELS if spec(m).p2 != 0)
WITH_NN1 = tuple(m for m in MODELS if spec(m).p1 != 0)
MSE_MODELS = tuple(m for m in MODELS if spec(m).loss == "MSE")
MAE_MODELS = tuple(m for m in MODELS if spec(m).loss == "MAE")
# Table 2 columns: our eval.nc name, the registry's name, the unit Table 2 prints it in.
RESIDUALS = (("mean_res", "paper_mean_res", 1e-3, "⟨res⟩ (10⁻³)"),
             ("p99_res", "paper_p99_res", 1e-2, "99-P res (10⁻²)"),
             ("max_res", "paper_max_res", 1.0, "max res"))


# ---------------------------------------------------------------- profile and banner
def book_profile() -> tuple[Profile, str]:
    """The profile the book shows and why: ``$DIFFSURR_PROFILE``, else ``get_profile("auto")``."""
    name = os.environ.get(PROFILE_ENV, "").strip()
    if name:
        profile, _ = get_profile(name)
        return profile, "asked for by name when the book was built"
    return get_profile("auto")


_DATA_KEYS = ("n_samples", "test_fraction", "val_fraction", "data_seed", "split_seed", "mode",
              "placement")
_TRAIN_KEYS = ("epochs", "batch_size", "lr", "width", "head", "rollback", "C", "m", "s")


def _differences(profile: Profile, attrs: dict, keys: Sequence[str], where: str) -> list[str]:
    """'key = stored (profile: value) in <where>' for each ``profile_<key>`` attr that differs."""
    out = []
    for key in keys:
        stored = attrs.get(f"profile_{key}")
        if stored is not None and str(stored) != str(getattr(profile, key)):
            out.append(f"{key} = {stored} in `{where}` (profile: {getattr(profile, key)})")
    return out


def banner(profile: Profile, why: str | None = None) -> str:
    """Markdown that says which profile made the numbers of a page (and, unless it is
    ``paper``, that they are scaled results, not the preprint's scale)."""
    root = results_dir(profile)
    lines = [f"**Profile `{profile.name}`** — {profile.description}."]
    if why:
        lines[0] += f" (Chosen: {why}.)"
    data = data_path(profile)
    if data.exists():
        header = load_data(profile, ("split",))
        split, attrs = header["split"].values, header.attrs
        commit = str(attrs.get("git_commit", "unknown"))[:12]
        lines.append(
            f"Results read from `{display_path(root)}`: {attrs.get('n', split.size)} "
            f"configurations ({(split == 'train').sum()} train, {(split == 'val').sum()} "
            f"validation, {(split == 'test').sum()} test), {profile.epochs} epochs per model, "
            f"NN2 width × {profile.width:g}, output head `{profile.head}`, Adam lr "
            f"{fmt(profile.lr, 2)}, roll-back rule `{profile.rollback}` (C = {profile.C:g}, "
            f"m = {profile.m}, s = {profile.s}); data made at commit `{commit}`.")
        differ = _differences(profile, attrs, _DATA_KEYS, data.name)
        hist = RunId.of(profile, 9).dir / "history.nc"
        if hist.exists():
            differ += _differences(profile, load_attrs(hist), _TRAIN_KEYS,
                                   f"{hist.parent.name}/history.nc")
        if differ:
            lines.append("⚠️ These results were made with other profile values than the profile "
                         "now defines: " + "; ".join(differ) + ".")
    elif (h := next(iter(sorted(root.glob("model_*/history.nc"))), None)) is not None:
        attrs = load_attrs(h)
        lines.append(
            f"Results read from `{display_path(root)}`: {attrs.get('profile_n_samples')} "
            f"configurations ({attrs.get('n_train')} train, {attrs.get('n_val')} validation), "
            f"{profile.epochs} epochs per model, NN2 width × {profile.width:g}, output head "
            f"`{profile.head}`, Adam lr {fmt(profile.lr, 2)}, roll-back rule "
            f"`{profile.rollback}` (C = {profile.C:g}, m = {profile.m}, s = {profile.s}). The "
            f"data file `{data.name}` is not committed: it is regenerated from its seed and "
            f"checked against the checksum the runs record "
            f"(`{str(attrs.get('data_sha256'))[:12]}`).")
    else:
        lines.append(f"Results are expected in `{display_path(root)}` "
                     f"(no `{data.name}` there yet).")
    done, missing = study_progress(profile)
    if done and missing:
        more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        lines.append(f"⚠️ **This study is still under way**: {len(done)} of "
                     f"{len(done) + len(missing)} runs are finished and evaluated (not yet: "
                     + ", ".join(run_label(profile.name, r) for r in missing[:6]) + f"{more})."
                     " Each page shows "
                     "the runs that are in and names the ones a figure or sentence still "
                     "needs.")
    if profile.name != "paper":
        paper = PROFILES["paper"]
        lines.append(f"⚠️ **These are scaled results, not the preprint's scale** (the preprint: "
                     f"{paper.n_samples:,} samples, {paper.epochs} epochs, full-width networks, "
                     f"Adam lr {fmt(paper.lr, 2)}). Compare trends and orders of magnitude with "
                     "the preprint, not digits; where a preprint claim does not hold here the "
                     "text says so.")
    return "\n\n".join(lines)


def show_banner(profile: Profile, why: str | None = None) -> None:
    """Display :func:`banner` as a boxed admonition (HTML), at the top of a page."""
    from IPython.display import HTML, display
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").render(banner(profile, why))
    kind = "note" if profile.name == "paper" else "warning"
    display(HTML(f'<div class="admonition {kind}"><p class="admonition-title">'
                 f'{banner_line(profile)}</p><details><summary>Which run these numbers come '
                 f'from</summary>{body}</details></div>'))


def banner_line(profile: Profile) -> str:
    """The banner in one line: the profile, whether it is the preprint's scale, and how far
    the study is."""
    paper = PROFILES["paper"]
    scale = ("the preprint's scale" if profile.name == "paper" else
             f"scaled results ({profile.epochs} of the preprint's {paper.epochs} epochs), not "
             "the preprint's scale")
    done, missing = study_progress(profile)
    state = (f"; study under way: {len(done)} of {len(done) + len(missing)} runs evaluated"
             if done and missing else "")
    return f"Profile <code>{profile.name}</code>: {scale}{state}"


# ---------------------------------------------------------------- loading results


# ---------------------------------------------------------------- derived numbers


# ---------------------------------------------------------------- Table 2
def table2_comparison(evals: xr.Dataset) -> pd.DataFrame:
    """Table 2: hyperparameters, our test-set residuals next to the preprint's, and the ratio.

    One row per model of ``evals`` (all 14 for a full study). Columns are a two-level index:
    ``("Table 2", w | p1 | p2 | D1 | D2 | D3 | D4 | loss)`` and, for each of
    ``⟨res⟩ (10⁻³)``, ``99-P res (10⁻²)``, ``max res``: ``ours``, ``preprint`` (in the units
    Table 2 prints) and ``ours / preprint``; ``("dead", nn1 | nn2)``: whether that network's
    output is a constant in the run (:data:`DEAD_STD`). The preprint's values are the
    registry's (:func:`diffsurr.registry.table2_frame`).
    """
    t2 = table2_frame()
    models = [int(m) for m in evals["model"].values]
    test = evals.sel(set="test")
    cols: dict[tuple[str, str], list] = {}
    for name in ("w", "p1", "p2", "D1", "D2", "D3", "D4", "loss"):
        values = t2[name].sel(model=models).values
        cols[("Table 2", name)] = list(values)
    for ours, paper, unit, label in RESIDUALS:
        o = test[ours].sel(model=models).values / unit
        p = t2[paper].sel(model=models).values / unit
        cols[(label, "ours")] = list(o)
        cols[(label, "preprint")] = list(p)
        cols[(label, "ours / preprint")] = list(o / p)
    df = pd.DataFrame(cols, index=pd.Index(models, name="model"))
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    for name in ("w", "p1", "p2"):
        df[("Table 2", name)] = df[("Table 2", name)].astype(float)
    for net in ("nn1", "nn2"):
        std = [output_std(evals.sel(model=m), net) for m in models]
        df[("dead", net)] = [bool(v < DEAD_STD) for v in std]
    return df


def table2_compact(df: pd.DataFrame) -> pd.DataFrame:
    """``table2_comparison`` with the hyperparameters in fewer columns, for display: the
    networks that are on (from p₁, p₂), w, the four dropout rates in one column ("—" where the
    network is off) and the loss; the residual columns unchanged but "ours / preprint" is
    called "ratio"."""
    hp = df["Table 2"]
    dead = df["dead"] if "dead" in df.columns.get_level_values(0) else None
    nets = ["+".join(f"NN{i}" + (DEAD_MARK if dead is not None and dead[f"nn{i}"].iloc[k]
                                 else "")
                     for i, p in ((1, p1), (2, p2)) if p)
            for k, (p1, p2) in enumerate(zip(hp["p1"], hp["p2"]))]
    drop = [" ".join("—" if pd.isna(v) else f"{v:g}" for v in row)
            for row in hp[["D1", "D2", "D3", "D4"]].itertuples(index=False)]
    out = pd.DataFrame({("Table 2", "networks"): nets, ("Table 2", "w"): hp["w"].values,
                        ("Table 2", "D₁ D₂ D₃ D₄"): drop, ("Table 2", "loss"): hp["loss"].values},
                       index=df.index)
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    rest = df.drop(columns=["Table 2", "dead"], level=0, errors="ignore").rename(
        columns={"ours / preprint": "ratio"}, level=1)
    return pd.concat([out, rest], axis=1)


def style_table2(df: pd.DataFrame, caption_text: str | None = None):
    """:func:`table2_compact` of ``table2_comparison`` as a pandas Styler: 3 significant digits,
    the ratio coloured on a log scale (blue: ours smaller, red: ours larger, saturating at a
    factor 10), small type so that the 14 rows fit the page."""
    table = table2_compact(df)
    fmt_map = {}
    for col in table.columns:
        if col == ("Table 2", "w"):
            fmt_map[col] = "{:g}"
        elif col[1] == "ratio":
            fmt_map[col] = lambda x: sig(x, 2)
        elif col[0] != "Table 2":
            fmt_map[col] = sig
    styler = table.style.format(fmt_map)
    for col in table.columns:
        if col[1] == "ratio":
            ratio = table[col].astype(float).clip(lower=1e-12)
            styler = styler.background_gradient(cmap="RdBu_r", subset=[col], vmin=-1, vmax=1,
                                                gmap=np.log10(ratio))
    styler = styler.set_table_styles([
        {"selector": "", "props": [("font-size", "0.68em")]},
        {"selector": "th", "props": [("text-align", "center"), ("padding", "2px 2px")]},
        {"selector": "td", "props": [("text-align", "right"), ("padding", "2px 2px"),
                                     ("white-space", "nowrap")]},
        {"selector": "caption", "props": [("caption-side", "bottom"), ("text-align", "left")]}])
    if caption_text:
        styler = styler.set_caption(caption_text)
    return styler


# ---------------------------------------------------------------- captions and display
def fmt(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (scientific notation when very small/large)."""
    x = float(x)
    if not np.isfinite(x):
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        return f"{mantissa}·10{str(int(exponent)).translate(_SUPERSCRIPT)}"
    return f"{x:.{digits}g}"


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def sig(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` significant digits, trailing zeros kept, so that a table's rows
    show the same precision (0.500, 12.0, 1.20e-05; ``{:.3g}`` would give 0.5, 12, 1.2e-05)."""
    return f"{float(x):#.{digits}g}".replace(".e", "e").rstrip(".")


def caption(label: str, title: str, profile: Profile | None, source: str | Sequence[str] | None,
            text: str = "", preprint: str | None = None, kind: str = "Figure") -> str:
    """Markdown caption: "**Figure <label>** (reproduces preprint <preprint>). Title. Text.
    *Profile `…`; data: `…`.*" (``kind="Table"`` for a table)."

    ``source`` names the file(s) the figure was drawn from (None: computed in the page);
    ``profile`` None for a figure that does not depend on the run (e.g. a solver check).
    """
    ref = f" (reproduces preprint {preprint})" if preprint else " (not in the preprint)"
    body = f"**{kind} {label}**{ref}. {title.rstrip('.')}."
    if text:
        body += f" {text.strip()}"
    if source is None:
        shown = "computed when this page was built"
    else:
        sources = [source] if isinstance(source, str) else list(source)
        shown = "data: " + ", ".join(f"`{s}`" for s in sources[:4])
        if len(sources) > 4:
            shown += f" and {len(sources) - 4} more"
    if profile is None:
        return f"{body} *{shown[0].upper() + shown[1:]}.*"
    scale = "" if profile.name == "paper" else ", scaled, not the preprint's scale"
    return f"{body} *Profile `{profile.name}`{scale}; {shown}.*"


def eval_sources(profile: Profile, models: Sequence[int], **overrides) -> list[str]:
    """Display paths of the ``eval.nc`` files of ``models`` (for captions)."""
    return [display_path(run_dir(profile, m, **overrides) / "eval.nc") for m in models]


def eval_glob(profile: Profile) -> str:
    """``results/<profile>/model_NN/eval.nc`` as shown in captions that use every model."""
    return display_path(results_dir(profile)) + "/model_NN/eval.nc"


def figure_png(fig, dpi: int = 110) -> bytes:
    """A matplotlib Figure rendered to PNG bytes (tight bounding box)."""
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def md(text: str) -> None:
    """Display markdown text (findings computed at build time); empty text displays nothing."""
    from IPython.display import Markdown, display

    if text:
        display(Markdown(text))


# ---------------------------------------------------------------- seeds: error bars


DEAD_STD = 1e-6
"""A network whose unweighted output varies by less than this over the test fields (standard
deviation over the stored test samples and pixels; fields lie in [0, 1]) is dead: its final
ReLU passes nothing and the output is a constant."""
DEAD_MARK = "†"


# ---------------------------------------------------------------- metrics beyond the preprint
METRIC_COLUMNS = (
    ("mean_res", "⟨res⟩"), ("mean_nrmse", "nRMSE"), ("rmse_boundary_all", "ring RMSE"),
    ("max_boundary_all", "ring max"), ("frmse_low", "fRMSE low"), ("frmse_mid", "fRMSE mid"),
    ("frmse_high", "fRMSE high"), ("rms_pde_all", "PDE RMS"), ("max_pde_all", "PDE max"))


def metrics_frame(evals: xr.Dataset, set_name: str = "test") -> pd.DataFrame:
    """One row per model with the metrics beyond the preprint (and the mean residual, for
    comparison) over ``set_name``: columns named by :data:`METRIC_COLUMNS`' keys; the Fourier
    bands 1, 2, 3 of ``frmse`` become ``frmse_low``, ``frmse_mid``, ``frmse_high``."""
    ds = evals.sel(set=set_name)
    models = [int(m) for m in ds["model"].values]
    frmse = ds["frmse"].transpose("model", "band").values
    if frmse.shape[1] != 3:
        raise ValueError(f"expected 3 Fourier bands, got {frmse.shape[1]}")
    cols = {}
    for key, _ in METRIC_COLUMNS:
        if key.startswith("frmse_"):
            cols[key] = frmse[:, ("frmse_low", "frmse_mid", "frmse_high").index(key)]
        else:
            cols[key] = ds[key].values
    return pd.DataFrame(cols, index=pd.Index(models, name="model"))

