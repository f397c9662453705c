"""Self-contained HTML reports: ``--html FILE`` of ``compare``, ``engine`` and ``history``.

One file that opens anywhere, offline: inline CSS, charts drawn as inline SVG by the small
generators below (no scripts, fonts, images or styles fetched from anywhere), a layout that
reflows from a laptop screen to a phone's width. The recommendation comes first; then the
energy diagram, the entropy change and its columns, the temperature, the Type I temperatures
(when the report has them) and a network's layers and engine figures.

Every chart is an ``<svg data-chart="NAME">`` inside a ``<figure>`` with a caption, and the
recommendation is ``<section id="verdict">``: the rendering test finds them by those names.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Iterable, Sequence

from .render import engine_rows, figure_rows
from .report import Comparison, Estimate, Temperature

#: Columns in the entropy chart, features in the energy chart.
TOP_ROWS = 6

CSS = """
:root{--fg:#1f2328;--muted:#59636e;--bg:#ffffff;--card:#f6f8fa;--line:#d0d7de;
--retrain:#b42318;--retrain-bg:#fef3f2;--keep:#067647;--keep-bg:#ecfdf3;
--a:#c2410c;--b:#1d4ed8;--up:#7c3aed;--down:#0f766e;--point:#111827}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;
--card:#161b22;--line:#30363d;--retrain:#ff7b72;--retrain-bg:#2d1214;--keep:#56d364;
--keep-bg:#0f2a18;--a:#fb923c;--b:#60a5fa;--up:#a78bfa;--down:#2dd4bf;--point:#e6edf3}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue","DejaVu Sans",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:20px 16px 40px}
h1{font-size:1.1rem;font-weight:600;margin:0 0 12px;color:var(--muted);overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:28px 0 10px}
code{font:0.9em ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;overflow-wrap:anywhere}
.verdict{border-left:8px solid;border-radius:8px;padding:14px 18px;margin:0 0 16px}
.verdict.retrain{border-color:var(--retrain);background:var(--retrain-bg)}
.verdict.keep{border-color:var(--keep);background:var(--keep-bg)}
.verdict.neutral{border-color:var(--muted);background:var(--card)}
.verdict .word{font-size:2rem;font-weight:800;letter-spacing:.04em;margin-right:.4em}
.verdict.retrain .word{color:var(--retrain)}
.verdict.keep .word{color:var(--keep)}
.verdict .class{font-size:1.1rem;font-weight:600}
.verdict p{margin:6px 0 0;font-size:1.05rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .label{font-size:.85rem;color:var(--muted)}
.card .value{font-size:1.45rem;font-weight:700;font-variant-numeric:tabular-nums}
.card .note{font-size:.85rem;color:var(--muted)}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,440px),1fr));gap:16px}
figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;min-width:0}
figure h3{font-size:1rem;margin:0 0 6px}
figcaption{font-size:.88rem;color:var(--muted);margin-top:6px}
svg[data-chart]{display:block;width:100%;max-width:600px;height:auto;margin:0 auto;overflow:visible}
svg text{fill:var(--fg);font-family:inherit}
svg .muted{fill:var(--muted)}
svg .axis{stroke:var(--muted);stroke-width:1}
svg .grid{stroke:var(--line);stroke-width:1}
svg .halo{paint-order:stroke;stroke:var(--card);stroke-width:3px;stroke-linejoin:round}
.table-wrap{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.92rem;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;white-space:nowrap}
table.nowrap td,table.nowrap th{white-space:nowrap}
ul.notes{padding-left:1.2em;color:var(--muted);font-size:.92rem}
footer{margin-top:28px;color:var(--muted);font-size:.85rem;overflow-wrap:anywhere}
@media (max-width:560px){body{font-size:15px}main{padding:12px 10px 28px}
.verdict{padding:12px 12px}.verdict .word{font-size:1.6rem}figure{padding:8px}}
@media print{.charts{grid-template-columns:1fr 1fr}figure{break-inside:avoid}}
"""


# --------------------------------------------------------------------------------------------
# numbers and words


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}g}"


def _interval(low: float | None, high: float | None) -> str:
    return f"[{_num(low)}, {_num(high)}]"


def _temperature(t: Temperature | dict | None) -> Temperature | None:
    if t is None or isinstance(t, Temperature):
        return t
    return Temperature(status=t.get("status", "undefined"), value=t.get("value"),
                       low=t.get("low"), high=t.get("high"), sign=int(t.get("sign") or 0))


def _t_words(t: Temperature | dict | None) -> str:
    t = _temperature(t)
    return "-" if t is None else t.describe()


def _t_reason(t: Temperature) -> str:
    if t.status == "finite":
        return f"95% {_interval(t.low, t.high)} per nat" if t.low is not None else "per nat"
    if t.status == "infinite":
        return "dS indistinguishable from 0, dE is not"
    return "neither dE nor dS is distinguishable from 0"


def _when(stamp: str) -> str:
    """``2026-01-02T03:04:05+00:00`` -> ``2026-01-02 03:04:05 UTC``."""
    if len(stamp) >= 19 and stamp.endswith("+00:00"):
        return stamp[:19].replace("T", " ") + " UTC"
    return stamp


def _short(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering [low, high]."""
    span = high - low
    if not span > 0:
        return [low]
    raw = span / count
    step = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * step:
            step *= multiple
            break
    first = math.ceil(low / step) * step
    ticks, value = [], first
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


# --------------------------------------------------------------------------------------------
# SVG


def _f(value: float) -> str:
    return f"{value:.1f}"


def _text(x: float, y: float, content: str, *, size: float = 11, anchor: str = "start",
          cls: str = "", weight: str | None = None, color: str | None = None) -> str:
    attributes = f' class="{cls}"' if cls else ""
    if weight:
        attributes += f' font-weight="{weight}"'
    if color:  # a style, since the page's CSS colours every text
        attributes += f' style="fill:{color}"'
    return (f'<text x="{_f(x)}" y="{_f(y)}" font-size="{size}" text-anchor="{anchor}"{attributes}>'
            f"{escape(content)}</text>")


def _line(x1: float, y1: float, x2: float, y2: float, *, cls: str = "", stroke: str | None = None,
          width: float | None = None, dash: str | None = None, marker: str | None = None) -> str:
    attributes = f' class="{cls}"' if cls else ""
    if stroke:
        attributes += f' stroke="{stroke}"'
    if width:
        attributes += f' stroke-width="{width}"'
    if dash:
        attributes += f' stroke-dasharray="{dash}"'
    if marker:
        attributes += f' marker-end="url(#{marker})"'
    return f'<line x1="{_f(x1)}" y1="{_f(y1)}" x2="{_f(x2)}" y2="{_f(y2)}"{attributes}/>'


def _rect(x: float, y: float, w: float, h: float, fill: str, opacity: float | None = None) -> str:
    extra = f' fill-opacity="{opacity}"' if opacity is not None else ""
    return (f'<rect x="{_f(x)}" y="{_f(y)}" width="{_f(max(w, 0))}" height="{_f(max(h, 0))}"'
            f' fill="{fill}"{extra}/>')


def _svg(name: str, width: int, height: int, parts: Iterable[str], label: str) -> str:
    return (
        f'<svg data-chart="{name}" viewBox="0 0 {width} {height}" role="img"'
        f' aria-label="{escape(label)}">' + "".join(parts) + "</svg>"
    )


def _arrow_marker(name: str, color: str) -> str:
    return (
        f'<defs><marker id="{name}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
        f' markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{color}"/>'
        "</marker></defs>"
    )


def _figure(title: str, chart: str, caption: str) -> str:
    return (f"<figure><h3>{escape(title)}</h3>{chart}"
            f"<figcaption>{caption}</figcaption></figure>")


def bar_chart(
    name: str,
    rows: Sequence[tuple[str, float | None, str]],
    *,
    label: str,
    intervals: dict[int, tuple[float | None, float | None]] | None = None,
    bold: Iterable[int] = (),
    colors: tuple[str, str] = ("var(--up)", "var(--down)"),
    label_width: int = 118,
    text_width: int = 70,
    width: int = 360,
) -> str:
    """Horizontal bars from zero, one row per ``(name, value, text)``: positive values in
    ``colors[0]``, negative in ``colors[1]``; a row with value ``None`` shows its text only.
    ``intervals`` adds a 95% whisker to the rows it names."""
    intervals = intervals or {}
    bold = set(bold)
    row_height, top = 26, 6
    height = top * 2 + row_height * max(len(rows), 1)
    left, right = label_width + 4, width - text_width - 6
    ends = [v for _, v, _ in rows if v is not None]
    ends += [e for pair in intervals.values() for e in pair if e is not None]
    low, high = min([0.0, *ends]), max([0.0, *ends])
    if high == low:
        high = low + 1.0
    pad = (high - low) * 0.04
    low, high = (low - pad if low < 0 else low), (high + pad if high > 0 else high)

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (right - left)

    parts = [_line(x(0), top - 2, x(0), height - top + 2, cls="axis")]
    for i, (row_name, value, text) in enumerate(rows):
        y = top + i * row_height
        middle = y + row_height / 2
        weight = "700" if i in bold else None
        parts.append(_text(label_width, middle + 4, _short(row_name, label_width // 7), size=12,
                           anchor="end", weight=weight))
        if value is not None:
            start, stop = sorted((x(0), x(value)))
            color = colors[0] if value >= 0 else colors[1]
            parts.append(_rect(start, y + 6, max(stop - start, 1.0), row_height - 12, color))
        if i in intervals:
            lo, hi = intervals[i]
            if lo is not None and hi is not None:
                parts.append(_line(x(lo), middle, x(hi), middle, stroke="var(--point)", width=1.5))
                for end in (lo, hi):
                    parts.append(_line(x(end), middle - 5, x(end), middle + 5, stroke="var(--point)",
                                       width=1.5))
        parts.append(_text(right + 6, middle + 4, text, size=11.5, weight=weight))
    return _svg(name, width, height, parts, label)


def energy_diagram(report: Comparison) -> str:
    """The Type II transition as an energy diagram: level E_A (old model on the new data) to
    level E_B (refreshed, out of sample), each with its 95% band, and the arrow dE between."""
    e = report.energy
    a, b, d = e.before, e.after_out_of_sample, e.delta_out_of_sample
    width, height = 360, 250
    x_axis, bottom, top = 44, 214, 44
    highs = [v for v in (a.high, b.high, a.value, b.value) if v is not None and math.isfinite(v)]
    lows = [v for v in (a.low, b.low) if v is not None and math.isfinite(v)]
    vmax = max(highs) * 1.1 if highs and max(highs) > 0 else 1.0
    vmin = min(0.0, *lows) if lows else 0.0

    def y(value: float) -> float:
        return bottom - (value - vmin) / (vmax - vmin) * (bottom - top)

    parts = [_arrow_marker("energy-arrow", "var(--point)")]
    for tick in _nice_ticks(vmin, vmax, 4):
        parts.append(_line(x_axis, y(tick), width - 6, y(tick), cls="grid"))
        parts.append(_text(x_axis - 5, y(tick) + 4, _num(tick, 3), size=11, anchor="end", cls="muted"))
    parts.append(_line(x_axis, top - 6, x_axis, bottom, cls="axis"))
    columns = ((a, "E_A", "old model", 60, 148, "var(--a)"),
               (b, "E_B", "refreshed model", 256, 344, "var(--b)"))
    for estimate, name, words, x1, x2, color in columns:
        band_top, band_bottom = y(estimate.high), y(estimate.low)
        parts.append(_rect(x1, band_top, x2 - x1, max(band_bottom - band_top, 1.5), color, 0.22))
        parts.append(_line(x1, y(estimate.value), x2, y(estimate.value), stroke=color, width=3.5))
        centre = (x1 + x2) / 2
        parts.append(_text(centre, band_top - 21, f"{name} = {_num(estimate.value)}", size=13.5,
                           anchor="middle", weight="700", cls="halo"))
        parts.append(_text(centre, band_top - 7, _interval(estimate.low, estimate.high), size=11,
                           anchor="middle", cls="muted halo"))
        parts.append(_text(centre, bottom + 18, words, size=11.5, anchor="middle", cls="muted"))
    parts.append(_text(x_axis - 5, top - 16, "energy", size=11, anchor="end", cls="muted"))
    ya, yb = y(a.value), y(b.value)
    parts.append(_line(150, ya, 253, yb, stroke="var(--point)", width=1.6, marker="energy-arrow"))
    released = report.recommendation.relative_gain
    if abs(ya - yb) > 60:  # a steep arrow: its label beside its middle
        label_y = min(max((ya + yb) / 2 - 18, top + 4), bottom - 40)
    else:  # a flat one: below the two bands, or above their labels when there is no room
        below = max(y(a.low), y(b.low)) + 22
        label_y = below if below <= bottom - 34 else min(y(a.high), y(b.high)) - 64
    parts.append(_text(202, label_y, f"dE = {_num(d.value)}", size=13, anchor="middle",
                       weight="700", cls="halo"))
    parts.append(_text(202, label_y + 14, _interval(d.low, d.high), size=11, anchor="middle",
                       cls="muted halo"))
    parts.append(_text(202, label_y + 28, f"{released:.1%} released", size=11.5, anchor="middle",
                       cls="halo"))
    return _svg("energy", width, height, parts,
                f"Energy diagram: E_A {_num(a.value)} to E_B {_num(b.value)}, dE {_num(d.value)}")


def temperature_plane(delta_energy: Estimate, delta_entropy: Estimate, t: Temperature,
                      name: str = "temperature") -> str:
    """The transition as a point (dS, dE) with its 95% intervals; the temperature is the slope
    of the line from the origin through it. When dS is indistinguishable from 0, the band of dS
    values that cannot be told from 0 is shaded: the slope is infinite (or undefined)."""
    width, height = 360, 262
    left, right, top, bottom = 50, 350, 22, 222
    xs = [abs(v) for v in (delta_entropy.low, delta_entropy.high, delta_entropy.value)
          if v is not None and math.isfinite(v)]
    xm = (max(xs) if xs and max(xs) > 0 else 1.0) * 1.3
    ys = [v for v in (delta_energy.low, delta_energy.high, delta_energy.value)
          if v is not None and math.isfinite(v)]
    ylo, yhi = min([0.0, *ys]), max([0.0, *ys])
    span = (yhi - ylo) or 1.0
    ylo, yhi = ylo - 0.12 * span, yhi + 0.12 * span

    def X(value: float) -> float:
        return left + (value + xm) / (2 * xm) * (right - left)

    def Y(value: float) -> float:
        return bottom - (value - ylo) / (yhi - ylo) * (bottom - top)

    parts = []
    for tick in _nice_ticks(ylo, yhi, 4):
        parts.append(_line(left, Y(tick), right, Y(tick), cls="grid"))
        parts.append(_text(left - 5, Y(tick) + 4, _num(tick, 3), size=11, anchor="end", cls="muted"))
    for tick in _nice_ticks(-xm, xm, 4):
        parts.append(_line(X(tick), bottom, X(tick), bottom + 4, cls="axis"))
        parts.append(_text(X(tick), bottom + 16, _num(tick, 2), size=11, anchor="middle", cls="muted"))
    parts.append(_line(left, bottom, right, bottom, cls="axis"))
    parts.append(_text(left - 5, top - 8, "dE", size=11.5, anchor="end", cls="muted"))
    parts.append(_text(right, bottom + 32, "dS (nats)", size=11.5, anchor="end", cls="muted"))
    if t.status != "finite" and delta_entropy.low is not None:
        x1, x2 = X(max(delta_entropy.low, -xm)), X(min(delta_entropy.high, xm))
        parts.append(_rect(x1, top, x2 - x1, bottom - top, "var(--up)", 0.14))
        parts.append(_text((x1 + x2) / 2, top + 14, "dS cannot be told from 0", size=11,
                           anchor="middle", cls="muted halo"))
    if t.status == "undefined" and delta_energy.low is not None:
        y1, y2 = Y(min(delta_energy.high, yhi)), Y(max(delta_energy.low, ylo))
        parts.append(_rect(left, y1, right - left, y2 - y1, "var(--a)", 0.14))
    parts.append(_line(left, Y(0), right, Y(0), cls="axis"))
    parts.append(_line(X(0), top, X(0), bottom, cls="axis"))
    if ylo < 0:
        parts.append(_text(left + 4, bottom - 6, "below 0: energy released", size=10.5,
                           cls="muted halo"))
    px, py = X(delta_entropy.value), Y(delta_energy.value)
    if t.status == "finite" and t.value is not None:
        # the line through the origin with slope T, to the edge of the plot
        reach = [xm, (yhi if t.value > 0 else -ylo) / abs(t.value) if t.value else xm]
        edge = min(r for r in reach if r > 0) * (1 if delta_entropy.value >= 0 else -1)
        parts.append(_line(X(0), Y(0), X(edge), Y(t.value * edge), stroke="var(--up)", width=1.5,
                           dash="5 4"))
    if delta_entropy.low is not None and delta_entropy.high is not None:
        parts.append(_line(X(delta_entropy.low), py, X(delta_entropy.high), py, stroke="var(--point)",
                           width=1.5))
    if delta_energy.low is not None and delta_energy.high is not None:
        parts.append(_line(px, Y(delta_energy.low), px, Y(delta_energy.high), stroke="var(--point)",
                           width=1.5))
    parts.append(f'<circle cx="{_f(px)}" cy="{_f(py)}" r="4.5" fill="var(--point)"/>')
    anchor = "start" if px < (left + right) / 2 else "end"
    tx = px + 9 if anchor == "start" else px - 9
    ty = min(max(py - 8, top + 24), bottom - 20)
    parts.append(_text(tx, ty, f"T = {t.describe()}", size=13.5, anchor=anchor, weight="700",
                       cls="halo"))
    if t.status == "finite":
        parts.append(_text(tx, ty + 15, "the dashed line's slope", size=11, anchor=anchor,
                           cls="muted halo"))
    return _svg(name, width, height, parts,
                f"Temperature: dE {_num(delta_energy.value)} over dS {_num(delta_entropy.value)}, T {t.describe()}")


def entropy_chart(report: Comparison) -> str:
    """dS with its interval, then the columns that moved the entropy most (marginal changes)."""
    s = report.entropy
    rows = [("dS (all)", s.delta.value, f"{s.delta.value:+.3g}")]
    for c in s.columns[:TOP_ROWS]:
        rows.append((c.column, c.delta, f"{c.delta:+.3g}"))
    if s.dependence is not None and len(s.columns) > 1:
        rows.append(("(dependence)", s.dependence, f"{s.dependence:+.3g}"))
    return bar_chart("entropy", rows, label="Entropy change by column, nats",
                     intervals={0: (s.delta.low, s.delta.high)}, bold=[0])


def carriers_chart(report: Comparison) -> str | None:
    """The features that carry the released energy (their shares), largest first."""
    if report.explanation is None or not report.explanation.features:
        return None
    rows = [(f.feature, f.share, f"{f.share:.1%}") for f in report.explanation.features[:TOP_ROWS]]
    return bar_chart("carriers", rows, label="Shares of the released energy by feature",
                     colors=("var(--b)", "var(--a)"))


def _temperature_value(t: Temperature | None) -> float | None:
    return t.value if t is not None and t.status == "finite" else None


def type_one_chart(type_one: dict) -> str:
    """The Type I temperatures of the reference (before) and of the shifted data (after)."""
    rows = []
    for side, words in (("reference", "before (reference)"), ("shifted", "after (shifted)")):
        t = _temperature((type_one.get(side) or {}).get("temperature"))
        rows.append((words, _temperature_value(t), _t_words(t)))
    return bar_chart("type-one", rows, label="Type I temperatures before and after the shift",
                     colors=("var(--a)", "var(--b)"), label_width=136, text_width=80)


def layers_chart(network: dict, name: str = "layers") -> str:
    """Per-layer released energy (-dE_l, share of the total) and temperature T_l."""
    rows = []
    for layer in network["layers"]:
        released = -layer["energy_change"] if layer["energy_change"] is not None else None
        share = "-" if layer.get("share") is None else f"{layer['share']:.0%}"
        rows.append((layer["name"], released, f"{share}, T {_t_words(layer['temperature'])}"))
    return bar_chart(name, rows, label="Energy released and temperature per layer",
                     colors=("var(--b)", "var(--a)"), label_width=64, text_width=118)


def efficiency_chart(reports: Sequence[Any]) -> str:
    """Work efficiency eta of each activation, with its Carnot bound in the text."""
    rows = []
    for r in reports:
        bound = "-" if r.carnot_bound is None else f"{r.carnot_bound:.2f}"
        rows.append((r.activation.value, r.efficiency, f"{r.efficiency:.3f} (Carnot {bound})"))
    return bar_chart("efficiency", rows, label="Work efficiency per activation",
                     colors=("var(--b)", "var(--a)"), label_width=70, text_width=118)


def trend_chart(name: str, values: Sequence[float | None], marks: Sequence[str | None],
                retrain: Sequence[bool], times: Sequence[str | None], label: str) -> str:
    """A run-by-run trend: one point per run (red: retrain, green: keep), joined where finite;
    an infinite value is an arrow at the top (+) or bottom (-) edge."""
    width, height = 360, 170
    left, right, top, bottom = 46, 350, 14, 140
    finite = [v for v in values if v is not None]
    low, high = (min([0.0, *finite]), max([0.0, *finite])) if finite else (0.0, 1.0)
    if high == low:
        high = low + 1.0
    pad = 0.08 * (high - low)
    low, high = low - pad, high + pad
    n = len(values)

    def X(i: int) -> float:
        return left + (i + 0.5) / max(n, 1) * (right - left)

    def Y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    parts = []
    if finite:
        for tick in _nice_ticks(low, high, 3):
            parts.append(_line(left, Y(tick), right, Y(tick), cls="grid"))
            parts.append(_text(left - 5, Y(tick) + 4, _num(tick, 3), size=11, anchor="end", cls="muted"))
    else:
        parts.append(_text((left + right) / 2, (top + bottom) / 2, "no finite value in these runs",
                           size=11, anchor="middle", cls="muted"))
    parts.append(_line(left, Y(0), right, Y(0), cls="axis"))
    points = [(X(i), Y(v)) for i, v in enumerate(values) if v is not None]
    if len(points) > 1:
        path = " ".join(f"{_f(px)},{_f(py)}" for px, py in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="var(--muted)" stroke-width="1.5"/>')
    for i, value in enumerate(values):
        color = "var(--retrain)" if retrain[i] else "var(--keep)"
        if value is not None:
            parts.append(f'<circle cx="{_f(X(i))}" cy="{_f(Y(value))}" r="3.5" fill="{color}"/>')
        else:
            mark = marks[i] or "·"
            y = top + 8 if mark == "↑" else bottom - 2 if mark == "↓" else Y(0) + 4
            parts.append(_text(X(i), y, mark, size=13, anchor="middle", weight="700", color=color))
    if times:
        parts.append(_text(left, height - 8, _when(times[0] or "")[:16], size=10.5, cls="muted"))
        if n > 1:
            parts.append(_text(right, height - 8, _when(times[-1] or "")[:16], size=10.5, anchor="end",
                               cls="muted"))
    return _svg(name, width, height, parts, label)


# --------------------------------------------------------------------------------------------
# page parts


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Iterable[int] = (),
           nowrap: bool = False) -> str:
    """A table that scrolls sideways on its own when it is wider than the screen; ``nowrap``
    keeps each cell on one line (a log of runs reads better scrolled than wrapped)."""
    numeric = set(numeric)

    def cell(tag: str, i: int, value: str) -> str:
        cls = ' class="num"' if i in numeric else ""
        return f"<{tag}{cls}>{escape(str(value))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows)
    table = '<table class="nowrap">' if nowrap else "<table>"
    return f'<div class="table-wrap">{table}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _card(label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{escape(note)}</div>' if note else ""
    return (f'<div class="card"><div class="label">{escape(label)}</div>'
            f'<div class="value">{escape(value)}</div>{note_html}</div>')


def _page(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        '<meta name="generator" content="shiftemp">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def _verdict(retrain: bool, shift_class: str, reason: str, extra: str = "") -> str:
    word = "retrain" if retrain else "keep"
    return (
        f'<section id="verdict" class="verdict {word}" role="status">'
        f'<span class="word">{word.upper()}</span><span class="class">{escape(shift_class)} shift</span>'
        f"<p>{escape(reason)}</p>{extra}</section>"
    )


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    return "<h2>Notes</h2><ul class=\"notes\">" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _law_words(law: Any) -> str:
    if isinstance(law, dict):
        params = ", ".join(f"{k} {_num(v, 3)}" for k, v in law.items()
                           if k not in ("kind", "variance") and isinstance(v, (int, float)))
        return f"{law.get('kind', 'law')}" + (f" ({params})" if params else "")
    return str(law)


def type_one_section(type_one: dict) -> str:
    """The Type I block of a comparison (the lead's ``Comparison.type_one``)."""
    sides = [type_one.get("reference") or {}, type_one.get("shifted") or {}]
    rows = []
    for key, words in (("E_A", "E_A: at initialization"), ("E_B", "E_B: at equilibrium"),
                       ("dE", "dE"), ("S_A", "S_A (nats)"), ("S_B", "S_B (nats)"),
                       ("dS", "dS (nats)")):
        rows.append((words, *(_num(side.get(key)) for side in sides)))
    rows.append(("T_I", *(_t_words(side.get("temperature")) for side in sides)))
    caption = (
        f"Training from initialization to equilibrium (theory section 4), law {escape(_law_words(type_one.get('law')))},"
        f" loss {escape(str(type_one.get('loss', '-')))}: on the reference (before the shift) and on the shifted data (after)."
    )
    return _figure("Type I temperatures, before and after", type_one_chart(type_one), caption) + (
        "<figure><h3>Type I figures</h3>"
        + _table(("quantity", "before (reference)", "after (shifted)"), rows, numeric=(1, 2))
        + "</figure>"
    )


def _network_rows(network: dict) -> list[tuple[str, str]]:
    t, training = network["transition"], network.get("training") or {}
    share = network.get("output_share")
    rows = [
        ("refresh path", str(network.get("path", "-"))),
        ("E_A -> E_B, whole network", f"{_num(t['energy_start'])} -> {_num(t['energy_end'])}"),
        ("dE, whole network", _num(t["energy_change"])),
        ("sum of the layers' dE_l (residual)", f"{_num(t['layer_energy_sum'])} ({_num(t['residual'])})"),
        ("dS, parameters (nats)", _num(t["entropy_change"])),
        ("T, whole network", _t_words(t["temperature"])),
        ("output layer's share", "-" if share is None else f"{share:.1%}"),
        ("refreshing the output layer alone suffices", "yes" if network.get("output_layer_suffices") else "no"),
    ]
    if training:
        rows.append(("training", f"{training.get('optimizer')}, {training.get('epochs')} epochs,"
                                 f" {training.get('steps'):,} steps, {training.get('rows_used'):,} rows"))
    if network.get("energy_scale") not in (None, 1.0):
        rows.append(("energy scale (to the loss's units)", _num(network["energy_scale"])))
    return rows


def network_section(network: dict) -> str:
    """A network refresh's per-layer temperatures and engine figures."""
    chart = layers_chart(network)
    caption = (f"Energy each layer released in the refresh ({escape(network.get('energy_unit', ''))}),"
               f" its share and its temperature T_l = dE_l / dS_l. {escape(network.get('summary', ''))}")
    layer_rows = [
        (layer["name"], f"{layer['n_parameters']:,}", _num(layer["energy_change"]),
         "-" if layer.get("share") is None else f"{layer['share']:.1%}", _num(layer["entropy_change"]),
         _t_words(layer["temperature"]))
        for layer in network["layers"]
    ]
    return (
        _figure("Per-layer temperatures", chart, caption)
        + "<figure><h3>Engine figures of the refresh</h3>"
        + _table(("quantity", "value"), _network_rows(network), numeric=(1,))
        + _table(("layer", "parameters", "dE_l", "share", "dS_l (nats)", "T_l"), layer_rows,
                 numeric=(1, 2, 3, 4, 5))
        + "</figure>"
    )


# --------------------------------------------------------------------------------------------
# the reports


def comparison_html(report: Comparison) -> str:
    """The HTML page of a ``shiftemp compare`` report."""
    r, e, s = report.recommendation, report.energy, report.entropy
    unit = {"mse": "squared target units", "mae": "target units", "ce": "nats"}.get(report.model.loss, "")
    inputs = (f'<p><code>{escape(report.reference.path)}</code> &#8594; '
              f"<code>{escape(report.shifted.path)}</code></p>")
    parts = [
        "<h1>shiftemp compare"
        + (f", {escape(_when(report.run.started))}" if report.run is not None else "") + "</h1>",
        _verdict(r.retrain, r.shift_class, r.reason, inputs),
        '<div class="cards">',
        _card("energy released", f"{r.relative_gain:.1%}", f"of E_A = {_num(e.before.value)} ({unit})"),
        _card("dE, out of sample", _num(e.delta_out_of_sample.value),
              f"95% {_interval(e.delta_out_of_sample.low, e.delta_out_of_sample.high)}"),
        _card("dS (nats)", _num(s.delta.value), f"95% {_interval(s.delta.low, s.delta.high)}"),
        _card("temperature T = dE/dS", report.temperature.describe(), _t_reason(report.temperature)),
        "</div>",
        '<h2>The transition</h2><div class="charts">',
        _figure(
            "Energy: E_A to E_B", energy_diagram(report),
            f"The old model's loss on the new data (E_A) and the refreshed model's, out of sample"
            f" ({e.folds}-fold cross-fit) (E_B), in {escape(unit)}, with 95% intervals. The arrow is"
            f" the energy a refresh releases.",
        ),
        _figure(
            "Entropy change and its columns", entropy_chart(report),
            ("The change in the data's entropy, dS = S_B - S_A, with its 95% interval, and the"
             " columns whose marginal entropy moved most (nats per row)." if s.kind == "data" else
             "The change in the fitted parameters' entropy, per row (nats), with its 95% interval."),
        ),
        _figure(
            "Temperature", temperature_plane(e.delta_out_of_sample, s.delta, report.temperature),
            "The transition in the (dS, dE) plane with 95% intervals. Its temperature T = dE/dS is"
            " the slope from the origin; infinite when dS cannot be told from 0 while dE can."
            f" In sample: T = {escape(report.temperature_in_sample.describe())}.",
        ),
    ]
    carriers = carriers_chart(report)
    if carriers is not None:
        parts.append(_figure(
            "Features that carry the released energy", carriers,
            "Each feature's share of the energy a refresh releases on the new data, in sample"
            f" ({escape(report.explanation.method)}).",
        ))
    type_one = getattr(report, "type_one", None)
    if type_one:
        parts.append(type_one_section(type_one))
    if report.network is not None:
        parts.append(network_section(report.network))
    parts.append("</div>")
    parts.append("<h2>All figures</h2>" + _table(("quantity", "value", "95% interval"),
                                                 figure_rows(report), numeric=(1,)))
    if s.columns:
        parts.append("<h2>Entropy by column</h2>" + _table(
            ("column", "kind", "reference", "shifted", "change"),
            [(c.column, c.kind, _num(c.reference), _num(c.shifted), f"{c.delta:+.4g}") for c in s.columns],
            numeric=(2, 3, 4),
        ))
    parts.append(_notes(report.notes))
    m = report.model
    footer = [
        f"model {m.family}/{m.loss}, {m.n_params} parameters, ridge {m.ridge:g}; target '{report.target}'",
        f"rows used: reference {report.reference.rows_used:,} of {report.reference.rows:,},"
        f" shifted {report.shifted.rows_used:,} of {report.shifted.rows:,}",
        f"sha256: reference {report.reference.sha256[:16] or '-'}…, shifted {report.shifted.sha256[:16] or '-'}…",
    ]
    if report.run is not None:
        footer.append(f"shiftemp {report.run.shiftemp_version}, started {report.run.started},"
                      f" {report.run.seconds:g} s on {report.run.host}"
                      + (f", engine {report.run.engine}" if report.run.engine else "")
                      + f"; report schema {report.schema_version}")
    parts.append("<footer>" + "<br>".join(escape(line) for line in footer) + "</footer>")
    title = f"shiftemp: {r.verdict.upper()} ({r.shift_class}): {report.reference.path} -> {report.shifted.path}"
    return _page(title, "".join(parts))


def engine_html(run: Any) -> str:
    """The HTML page of a ``shiftemp engine`` run (:class:`shiftemp.heat.EngineRun`)."""
    parts = [f"<h1>shiftemp engine: {escape(run.data.path)}, target {escape(run.target)}</h1>"]
    best = max(run.reports, key=lambda r: r.efficiency)
    working = best.engine_type.value == "working"
    parts.append(
        f'<section id="verdict" class="verdict {"keep" if working else "neutral"}" role="status">'
        f'<span class="word">{escape(best.engine_type.value.upper())}</span>'
        f'<span class="class">{escape(best.activation.value)}: eta {best.efficiency:.3f}</span>'
        f"<p>{escape(best.summary)}</p></section>"
    )
    if len(run.reports) > 1:
        parts.append('<div class="charts">' + _figure(
            "Work efficiency by activation", efficiency_chart(run.reports),
            "eta = max(0, W) / Q: the share of the energy training released that is work beyond the"
            " best linear model; beside it the Carnot bound over the layers.",
        ) + "</div>")
    for i, report in enumerate(run.reports):
        data = report.to_dict()
        parts.append(f"<h2>{escape(report.activation.value)} network {list(report.hidden)}</h2>"
                     '<div class="charts">')
        parts.append(_figure(
            f"{report.activation.value} network {list(report.hidden)}: per-layer temperatures",
            layers_chart(data, name=f"layers-{i + 1}"),
            f"Energy each layer released in training ({escape(report.energy_unit)}), its share and"
            f" its temperature T_l. {escape(report.summary)}",
        ))
        parts.append(
            f"<figure><h3>{escape(report.activation.value)}: engine figures</h3>"
            + _table(("quantity", "value"), engine_rows(report), numeric=(1,)) + "</figure></div>"
        )
    parts.append(_notes(run.notes))
    return _page(f"shiftemp engine: {run.data.path}", "".join(parts))


def history_html(history: Any, series: dict[str, list]) -> str:
    """The HTML page of ``shiftemp history FILE``: the trends of temperature and energy released,
    and one row per run."""
    records = history.records
    parts = [f"<h1>shiftemp history: {escape(history.path)}</h1>"]
    if records:
        last = records[-1]["recommendation"]
        parts.append(_verdict(last["retrain"], last["shift_class"],
                              f"Last run, {_when(records[-1]['time'])}: {last['reason']}",
                              f"<p>{len(records)} runs, {sum(series['retrain'])} of them retrain.</p>"))
    else:
        parts.append('<section id="verdict" class="verdict keep"><p>No runs recorded yet.</p></section>')
    parts.append('<div class="charts">')
    parts.append(_figure(
        "Temperature T = dE/dS, run by run",
        trend_chart("trend-temperature", series["temperature"], series["temperature_marks"],
                    series["retrain"], series["time"], "Temperature per run"),
        "Red: retrain, green: keep. An arrow at the top or bottom edge is an infinite temperature"
        " (dS indistinguishable from 0); a dot on the axis an undefined one.",
    ))
    parts.append(_figure(
        "Energy released, run by run",
        trend_chart("trend-energy", series["energy_released"], [None] * len(records),
                    series["retrain"], series["time"], "Energy released per run"),
        "-dE out of sample, in the loss's units: what a refresh would have removed.",
    ))
    parts.append("</div>")
    rows = []
    for item in reversed(records):
        f, rec = item["figures"], item["recommendation"]
        rows.append((
            _when(item["time"]), rec["verdict"].upper(), rec["shift_class"],
            _t_words(f.get("temperature")), _num(f.get("energy_released")),
            "-" if f.get("relative_gain") is None else f"{f['relative_gain']:.1%}", _num(f.get("dS")),
            f"{item['reference']['path']} -> {item['shifted']['path']}",
        ))
    parts.append("<h2>Runs, newest first</h2>" + _table(
        ("time", "verdict", "class", "T", "energy released", "of E_A", "dS", "inputs"), rows,
        numeric=(3, 4, 5, 6), nowrap=True))
    if history.skipped:
        parts.append(_notes([f"{s.where} skipped: {s.reason}" for s in history.skipped]))
    return _page(f"shiftemp history: {history.path}", "".join(parts))
