"""The HTML report (shiftemp/html.py): self-contained, recommendation first, every chart drawn,
and, in headless Chromium, every chart and the verdict visible at laptop and phone widths.

Set ``SHIFTEMP_UPDATE_SCREENSHOTS=1`` to rewrite docs/img/report.png and report-phone.png from
the same rendering (the README shows them).
"""

from __future__ import annotations

import dataclasses
import html as stdlib_html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import shiftemp
from conftest import SAMPLE_DATA, regression_frame
from shiftemp.html import comparison_html, engine_html, history_html
from shiftemp.report import Temperature

pytestmark = pytest.mark.usefixtures("one_blas_thread")

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "docs" / "img"
PAIRS = {
    "concept": ("reference.parquet", "shifted.parquet", "RETRAIN"),
    "covariate": ("covariate_reference.parquet", "covariate_shifted.parquet", "KEEP"),
}
#: The charts of every comparison, in page order; then those of the blocks a report may have.
CHARTS = ["energy", "entropy", "temperature"]


def expected_charts(report: shiftemp.Comparison) -> list[str]:
    return CHARTS + ["carriers"] * (report.explanation is not None) + [
        "type-one"] * bool(report.type_one) + ["layers"] * (report.network is not None)
#: Laptop and phone viewport widths, CSS pixels.
WIDTHS = {"laptop": 1280, "phone": 390}


@pytest.fixture(scope="module")
def sample_reports() -> dict[str, shiftemp.Comparison]:
    reports = {}
    for name, (ref, new, _) in PAIRS.items():
        report = shiftemp.compare(SAMPLE_DATA / ref, SAMPLE_DATA / new)
        # the paths as the README's commands name them, run from the repository
        reports[name] = dataclasses.replace(
            report, reference=dataclasses.replace(report.reference, path=f"sample_data/{ref}"),
            shifted=dataclasses.replace(report.shifted, path=f"sample_data/{new}"),
        )
    return reports


def charts_of(page: str) -> list[str]:
    return re.findall(r'<svg data-chart="([\w-]+)"', page)


# -- self-contained, in order -------------------------------------------------------------------


@pytest.mark.parametrize("name", PAIRS)
def test_the_page_is_self_contained(sample_reports, name):
    page = comparison_html(sample_reports[name])
    assert page.startswith("<!DOCTYPE html>")
    # nothing is fetched: no scripts, links, images, frames, imports or URLs of any kind
    for forbidden in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "@font-face",
                      "src=", "href=", "http://", "https://", "//fonts", "cdn"):
        assert forbidden not in page.lower(), forbidden
    # url() only for the page's own fragments (the energy diagram's arrowhead)
    assert re.findall(r"url\((?!#)", page) == []
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "@media (max-width:560px)" in page


@pytest.mark.parametrize("name", PAIRS)
def test_the_recommendation_comes_first_then_the_charts_in_order(sample_reports, name):
    report = sample_reports[name]
    page = comparison_html(report)
    verdict = page.index('<section id="verdict"')
    assert verdict < page.index("<svg")
    assert f'<span class="word">{PAIRS[name][2]}</span>' in page
    assert stdlib_html.escape(report.recommendation.reason) in page
    assert charts_of(page) == expected_charts(report)
    assert "carriers" in charts_of(page) and "type-one" in charts_of(page)
    assert page.index("All figures") > page.index("</svg>", page.index(f'data-chart="{charts_of(page)[-1]}"'))


def test_the_energy_diagram_shows_both_levels_their_intervals_and_the_release(sample_reports):
    report = sample_reports["concept"]
    page = comparison_html(report)
    diagram = page[page.index('data-chart="energy"'):page.index("</svg>", page.index('data-chart="energy"'))]
    e = report.energy
    for estimate, name in ((e.before, "E_A"), (e.after_out_of_sample, "E_B")):
        assert f"{name} = {estimate.value:.4g}" in diagram
        assert f"[{estimate.low:.4g}, {estimate.high:.4g}]" in diagram
    assert f"dE = {e.delta_out_of_sample.value:.4g}" in diagram
    assert f"{report.recommendation.relative_gain:.1%} released" in diagram
    assert 'marker-end="url(#energy-arrow)"' in diagram


def test_the_temperature_chart_says_infinite_in_words_and_shades_ds_near_zero(sample_reports):
    concept = comparison_html(sample_reports["concept"])
    assert sample_reports["concept"].temperature.status == "infinite"
    assert "T = -infinite" in concept and "dS cannot be told from 0" in concept
    covariate = sample_reports["covariate"]
    assert covariate.temperature.status == "finite"
    page = comparison_html(covariate)
    assert f"T = {covariate.temperature.describe()}" in page
    assert 'stroke-dasharray="5 4"' in page  # the line whose slope is T


def test_the_entropy_chart_lists_the_top_columns_with_the_total(sample_reports):
    report = sample_reports["covariate"]
    page = comparison_html(report)
    chart = page[page.index('data-chart="entropy"'):]
    chart = chart[:chart.index("</svg>")]
    assert "dS (all)" in chart and f"{report.entropy.delta.value:+.3g}" in chart
    for column in report.entropy.columns[:6]:
        assert f">{column.column}</text>" in chart


def test_user_text_is_escaped():
    rng = np.random.default_rng(3)
    old = regression_frame(rng, 200)
    new = regression_frame(rng, 200, coef=(1.0, 1.0, 0.25))
    old["<b>x</b>"] = new["<b>x</b>"] = rng.normal(size=200)
    report = shiftemp.compare(old, new, target="y")
    report = dataclasses.replace(report, notes=("<script>alert(1)</script>",))
    page = comparison_html(report)
    assert "<script" not in page and "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "&lt;script&gt;" in page


def _type_one_block() -> dict:
    side = {"E_A": 5.0, "E_B": 1.0, "S_A": -2.0, "S_B": -6.0, "dE": -4.0, "dS": -4.0,
            "temperature": {"status": "finite", "value": 1.0, "low": 0.8, "high": 1.2, "sign": 1}}
    after = dict(side, dE=-3.0, E_B=2.0, temperature={"status": "infinite", "value": None,
                                                       "low": None, "high": None, "sign": -1})
    return {"law": "normal", "loss": "mse", "reference": side, "shifted": after}


def test_type_one_temperatures_before_and_after_are_drawn_when_present(sample_reports):
    report = dataclasses.replace(sample_reports["concept"], type_one=_type_one_block())
    page = comparison_html(report)
    assert "type-one" in charts_of(page)
    assert "Type I temperatures, before and after" in page
    assert "before (reference)" in page and "after (shifted)" in page and "-infinite" in page
    without = dataclasses.replace(report, type_one=None)
    assert "type-one" not in charts_of(comparison_html(without))
    assert charts_of(page) == expected_charts(report)


def _network_block() -> dict:
    t = {"status": "finite", "value": -0.25, "low": None, "high": None, "sign": -1}
    layers = [
        {"name": "hidden 1", "n_parameters": 24, "energy_change": -0.04, "share": 0.4,
         "entropy_start": -6.3, "entropy_end": -6.1, "entropy_change": 0.16, "temperature": t, "ridge": 6.0},
        {"name": "output", "n_parameters": 5, "energy_change": -0.06, "share": 0.6,
         "entropy_start": -4.9, "entropy_end": -4.8, "entropy_change": 0.1, "temperature": t, "ridge": 2.5},
    ]
    transition = {"energy_start": 1.7, "energy_end": 1.6, "energy_change": -0.1,
                  "layer_energy_sum": -0.1, "residual": 0.0, "relative_residual": 0.0,
                  "entropy_start": -11.2, "entropy_end": -10.9, "entropy_change": 0.26, "temperature": t}
    return {"activation": "relu", "hidden": [4], "loss": "mse", "path": "output-first",
            "energy_unit": "squared standardised target units", "layers": layers,
            "transition": transition, "output_share": 0.6, "output_layer_suffices": False,
            "summary": "the shift reaches the hidden layers", "energy_scale": 2.0,
            "training": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 200, "epochs": 5,
                         "steps": 10, "checkpoints": 11, "energy_passes": 11, "energy_rows": 400,
                         "rows_used": 400, "rows_total": 400, "sampled": False, "max_rows": 100000}}


def test_a_network_refresh_shows_its_layers_and_engine_figures(sample_reports):
    report = dataclasses.replace(sample_reports["concept"], network=_network_block())
    page = comparison_html(report)
    assert "layers" in charts_of(page)
    assert "Per-layer temperatures" in page and "Engine figures of the refresh" in page
    for text in ("hidden 1", "output", "60%, T -0.25", "output-first", "the shift reaches the hidden layers"):
        assert text in page


def test_engine_and_history_pages(tmp_path):
    from shiftemp.heat import run_engine
    from shiftemp.history import History, record, series
    from shiftemp.network import Activation

    rng = np.random.default_rng(5)
    frame = regression_frame(rng, 300)
    run = run_engine(frame, target="y", hidden=(4,), epochs=3,
                     activations=(Activation.RELU, Activation.IDENTITY))
    page = engine_html(run)
    assert charts_of(page) == ["efficiency", "layers-1", "layers-2"]
    assert "work efficiency eta" in page and "<script" not in page
    report = shiftemp.compare(frame, regression_frame(rng, 300, coef=(1.0, 1.0, 0.25)), target="y")
    records = [record(report)] * 3
    history = History(str(tmp_path / "runs.jsonl"), tuple(records))
    page = history_html(history, series(records))
    assert charts_of(page) == ["trend-temperature", "trend-energy"]
    assert page.count("<tr>") == 1 + 3  # the header and one row per run


def test_cli_html_writes_the_page_beside_the_other_outputs(run, tmp_path):
    rng = np.random.default_rng(9)
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    regression_frame(rng, 300).to_csv(old, index=False)
    regression_frame(rng, 300, coef=(1.0, 1.0, 0.25)).to_csv(new, index=False)
    page, report = tmp_path / "report.html", tmp_path / "report.json"
    result = run("compare", old, new, "--target", "y", "--html", page, "-o", report, "-f", "json")
    assert result.code == 0 and result.stdout == ""
    assert charts_of(page.read_text())[:3] == CHARTS
    assert json.loads(report.read_text())["kind"] == "comparison"
    missing = run("compare", old, new, "--target", "y", "--html", tmp_path / "nowhere" / "r.html")
    assert missing.code == 2 and "does not exist" in missing.stderr
    assert missing.stdout == ""


# -- rendered in headless Chromium ------------------------------------------------------------

CHROMIUM = next((c for c in (shutil.which("chromium"), "/usr/bin/chromium") if c and os.path.exists(c)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("SHIFTEMP_REQUIRE_CHROMIUM"),
    reason="needs Debian's chromium (/usr/bin/chromium) to render the HTML report; .ci/run installs it"
           " (apt-get install chromium)",
)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--host-resolver-rules=MAP * ~NOTFOUND"]

#: A page that loads the report into one frame per width (a frame's width is its viewport, so
#: the report's media queries apply; headless windows are at least 500 px wide) and, once all are
#: loaded, writes what it measured into <pre id="probe"> for --dump-dom.
PROBE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
FRAMES<pre id="probe">pending</pre>
<script>
function measure(frame) {
  var w = frame.contentWindow, d = frame.contentDocument, out = {width: w.innerWidth,
    scrollWidth: d.documentElement.scrollWidth, resources: w.performance.getEntriesByType('resource').length,
    chartsBottom: d.querySelector('.charts').getBoundingClientRect().bottom, items: []};
  var items = [d.getElementById('verdict')].concat(Array.from(d.querySelectorAll('svg[data-chart]')));
  items.forEach(function (el) {
    if (!el) { out.items.push(null); return; }
    var r = el.getBoundingClientRect(), s = w.getComputedStyle(el), texts = [];
    el.querySelectorAll('text').forEach(function (t) {
      var b = t.getBoundingClientRect(); texts.push([b.left, b.right, b.height]); });
    out.items.push({name: el.getAttribute('data-chart') || el.id, text: el.innerText || el.textContent,
      left: r.left, right: r.right, top: r.top, width: r.width, height: r.height,
      display: s.display, visibility: s.visibility, opacity: parseFloat(s.opacity),
      drawn: el.querySelectorAll('rect,line,circle,path,polyline').length, texts: texts});
  });
  return out;
}
window.addEventListener('load', function () {
  var result = {};
  document.querySelectorAll('iframe').forEach(function (f) { result[f.id] = measure(f); });
  document.getElementById('probe').textContent = JSON.stringify(result);
});
</script></body></html>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    """Headless Chromium with a fresh profile, no network, no background services."""
    assert CHROMIUM, "SHIFTEMP_REQUIRE_CHROMIUM is set (.ci/run) but chromium is not installed"
    return subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
        text=True, timeout=180,
    )


def render_widths(page: str, tmp_path: Path) -> dict:
    """Measure ``page`` in Chromium at every width of :data:`WIDTHS`."""
    frames = "".join(
        f'<iframe id="{name}" style="width:{width}px;height:4000px;border:0;display:block"'
        f' srcdoc="{stdlib_html.escape(page, quote=True)}"></iframe>'
        for name, width in WIDTHS.items()
    )
    probe = tmp_path / "probe.html"
    probe.write_text(PROBE.replace("FRAMES", frames), encoding="utf-8")
    done = chromium("--window-size=1400,1000", "--dump-dom", probe.as_uri(), profile=tmp_path / "profile")
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found and found.group(1) != "pending", (done.returncode, done.stderr[-2000:])
    return json.loads(stdlib_html.unescape(found.group(1)))


@needs_chromium
@pytest.mark.parametrize("name", PAIRS)
def test_chromium_shows_the_recommendation_and_every_chart(sample_reports, tmp_path, name):
    page = comparison_html(sample_reports[name])
    measured = render_widths(page, tmp_path)
    for width_name, width in WIDTHS.items():
        view = measured[width_name]
        where = f"{name} at {width_name} width"
        assert view["width"] == width, where
        assert view["resources"] == 0, f"{where}: the page fetched something"
        assert view["scrollWidth"] <= width, f"{where}: the page scrolls sideways"
        verdict, *charts = view["items"]
        assert verdict is not None and verdict["name"] == "verdict", where
        assert verdict["text"].startswith(PAIRS[name][2]), (where, verdict["text"])
        assert [c["name"] for c in charts] == expected_charts(sample_reports[name]), where
        for item in (verdict, *charts):
            label = f"{where}: {item['name']}"
            assert item["display"] != "none" and item["visibility"] == "visible", label
            assert item["opacity"] > 0.9, label
            assert item["width"] >= min(300, width - 40) and item["height"] >= 60, (label, item)
            assert 0 <= item["left"] and item["right"] <= width, (label, item)
            for left, right, height in item["texts"]:
                assert 0 <= left and right <= width, f"{label}: a label runs off the screen"
                assert height >= 8, f"{label}: a label is too small to read ({height:.1f} px)"
        assert all(c["drawn"] >= 3 for c in charts), where
        assert all(verdict["top"] < c["top"] for c in charts), f"{where}: the verdict is not first"
    if name == "concept" and os.environ.get("SHIFTEMP_UPDATE_SCREENSHOTS"):
        write_screenshots(page, measured, tmp_path)


def write_screenshots(page: str, measured: dict, tmp_path: Path) -> None:
    """docs/img/report.png (laptop: down to the end of the charts) and report-phone.png (phone:
    the recommendation and the first charts), made by the same Chromium."""
    report = tmp_path / "report.html"
    report.write_text(page, encoding="utf-8")
    heights = {
        "laptop": measured["laptop"]["chartsBottom"] + 24,
        "phone": measured["phone"]["items"][2]["top"] + measured["phone"]["items"][2]["height"] + 150,
    }
    for name, target in (("laptop", "report.png"), ("phone", "report-phone.png")):
        done = chromium(f"--window-size={WIDTHS[name]},{int(heights[name])}",
                        f"--screenshot={SCREENSHOTS / target}", report.as_uri(),
                        profile=tmp_path / f"shot-{name}")
        assert done.returncode == 0, done.stderr[-2000:]


def test_the_committed_screenshots_are_pngs_the_readme_shows():
    readme = (ROOT / "README.md").read_text()
    for name, width in (("report.png", 1280), ("report-phone.png", 390)):
        data = (SCREENSHOTS / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == width
        assert f"docs/img/{name}" in readme


def test_temperature_words_in_charts_match_the_report_record():
    # the chart helpers read temperatures from dicts (JSON-safe blocks) and records alike
    from shiftemp.html import _t_words

    assert _t_words({"status": "infinite", "sign": 1}) == "+infinite"
    assert _t_words(Temperature(status="finite", value=0.12345)) == "0.1235"
    assert _t_words(None) == "-"


def test_the_history_page_takes_a_figure_that_is_not_finite_and_notes_a_bad_record(tmp_path):
    """A NaN figure (Python's json writes one) used to raise in the trend; a record with a
    missing verdict raised KeyError 'retrain'. The first is drawn as no value, the second is
    skipped and named at the foot of the page."""
    from shiftemp.history import read, record, series

    rng = np.random.default_rng(5)
    frame = regression_frame(rng, 300)
    report = shiftemp.compare(frame, regression_frame(rng, 300, coef=(1.0, 1.0, 0.25)), target="y")
    good = record(report)
    nan = json.loads(json.dumps(good))
    nan["figures"]["energy_released"] = float("nan")
    bad = dict(json.loads(json.dumps(good)), recommendation={"verdict": "retrain"})
    runs = tmp_path / "runs.jsonl"
    runs.write_text("\n".join(json.dumps(item) for item in (good, nan, bad)) + "\n")
    found = read(runs)
    page = history_html(found, series(found.records))
    assert charts_of(page) == ["trend-temperature", "trend-energy"]
    assert page.count("<tr>") == 1 + 2
    assert "line 3 skipped: recommendation.retrain is null, not true or false" in page
    assert ">nan<" not in page.lower()  # the run's energy released is a "-"
