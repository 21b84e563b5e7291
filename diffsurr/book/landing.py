"""The landing page's first screen: each preprint claim with its verdict, then one line per
finding beyond the preprint (speed, pay-off, baselines, generalisation), all computed from the
committed results through the chapters' own modules."""

from __future__ import annotations

import html

from ..profiles import Profile
from . import baselines, claims, generalisation, payoff, speedup


def claims_html(vs: dict[str, claims.Verdict]) -> str:
    """The verdict table (claim, verdict badge, one line of evidence) as HTML that wraps to
    the page's width."""
    rows = "".join(f"<tr><td>{v.claim.title}</td><td>{claims.badge(v, scale=False)}</td>"
                   f"<td>{html.escape(v.evidence)}</td></tr>" for v in vs.values())
    return ('<table class="claims-table" style="font-size:0.78em;width:100%;line-height:1.25">'
            "<thead><tr><th>preprint claim</th><th>verdict</th><th>evidence</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def caveat_line(vs: dict[str, claims.Verdict], profile: Profile) -> str:
    """The scale every verdict above is at ("" at the preprint's scale)."""
    caveat = next((v.caveat for v in vs.values() if v.caveat), "")
    if not caveat:
        return ""
    improving = next((v.improving for v in vs.values() if v.improving), "")
    return (f"**Every verdict is at this study's scale** (profile `{profile.name}`: {caveat}"
            f"{'; ' + improving if improving else ''}); "
            "*holds* and *fails* alike may change with more training (the seeds page has each "
            "comparison).")


def speed_line() -> str:
    benches, _ = speedup.load_benchmarks()
    if not benches:
        return "**Speed:** no benchmark file yet."
    quiet = speedup.headline_file(benches)
    name = quiet or max(benches, key=lambda n: benches[n].attrs["created"])
    ds = benches[name]
    loaded = "" if quiet else " (a loaded machine: indicative only)"
    return f"**Speed** (`{name}`{loaded}): {speedup.verdict(ds)}"


def payoff_line(profile: Profile) -> str:
    maps, _ = payoff.load_maps(profile)
    if not maps:
        return "**Pay-off:** no pay-off map yet."
    parts = []
    for name, ds in maps.items():
        pays = payoff.pays(ds)
        parts.append(f"on {payoff.device(ds)} a surrogate pays off (Eq. 4 has a solution) in "
                     f"{int(pays.sum())} of {pays.size} cells (grids up to "
                     f"{int(ds.grid.max())}², up to {int(ds.sources.max())} sources)")
    return "**Pay-off:** " + "; ".join(parts) + "."


def baselines_line(profile: Profile) -> str:
    return "**Baselines:** " + baselines.short(baselines.load(profile))


def generalisation_line(profile: Profile) -> str:
    gen, _ = generalisation.load(profile)
    if not gen.sizes.get("model"):
        return "**Generalisation:** no generalisation results yet."
    return "**Generalisation:** " + generalisation.grouped(generalisation.verdicts(gen))


def beyond_lines(profile: Profile) -> str:
    """The four findings beyond the preprint, one bullet each."""
    return "\n".join(f"- {line}" for line in (speed_line(), payoff_line(profile),
                                               baselines_line(profile),
                                               generalisation_line(profile)))
