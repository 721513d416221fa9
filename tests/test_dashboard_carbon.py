"""abundance --dashboard --carbon: features from the dashboard's ``/{dataset}/{pid}_features.csv``
(the lookalike on 127.0.0.1 serves them from ``products``), equal to the same bins as a local tree;
a bin without features there is skipped, never counted with zero carbon (issue 23)."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ifcbkit import SyncIfcbDataDirectory, daily_abundance, read_class_scores
from ifcbkit.jobs.dashboard_abundance import daily_abundance_from_dashboard
from servers import DashboardBehaviour, DashboardServer
from test_abundance_carbon import LARGE, PROTIST, A, B, C, carbon_tree


def site(tmp_path: Path) -> tuple[dict[str, Path], DashboardServer]:
    tree = carbon_tree(tmp_path)
    directory = SyncIfcbDataDirectory(tree["root"])
    files, catalog, products = {}, {}, {}
    for fileset in directory.list():
        pid = fileset["pid"]
        catalog[pid] = {**directory.bin_metadata(pid), "skip": False}
        files[pid] = Path(fileset["hdr"]).with_suffix("")
        day = tree["products"] / pid[:9]
        products[pid] = {"class_scores": day / f"{pid}_class_scores.csv"}
        # a dashboard lists as many images as it classified (fewer class-score rows is an answer cut short)
        catalog[pid]["num_images"] = len(read_class_scores(products[pid]["class_scores"]).rows)
        for name in (f"{pid}_fea_v2.csv", f"{pid}_features_v4.csv"):
            if (day / name).exists():
                products[pid]["features"] = day / name
    server = DashboardServer(files, {}, dataset="mvco", behaviour=DashboardBehaviour(ranges=False), catalog=catalog,
                             products=products)  # fmt: skip
    return tree, server


def nan_free(rows):
    return [{k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()} for r in rows]


@pytest.mark.parametrize("convention", ["ifcb-analysis", "irfcb"])
def test_carbon_from_the_dashboard_equals_the_local_tree(tmp_path, convention):
    tree, server = site(tmp_path)
    with server:
        remote = daily_abundance_from_dashboard(server.url, "mvco", carbon=True, convention=convention, method="adc",
                                                start_time="2024-03-01", end_time="2024-03-02")  # fmt: skip
        features_asked = [r.path for r in server.requests if r.path.endswith("_features.csv")]
    local = daily_abundance(tree["root"], tree["products"], carbon=True, convention=convention, workers=1)
    assert nan_free(remote.rows) == nan_free(local.rows)
    assert sorted(features_asked) == [f"/mvco/{pid}_features.csv" for pid in (A, B, C)]
    chaet = {b.pid: b.biomass for b in remote.bins}[A]["Chaetoceros_chain"]
    assert chaet.carbon_pg == pytest.approx(PROTIST[2000] if convention == "ifcb-analysis" else LARGE[2000])
    (skipped,) = remote.skipped
    assert skipped.pid == C and skipped.error and "no features" in skipped.reason


def test_the_cli_reads_features_from_the_dashboard_per_bin(tmp_path):
    _, server = site(tmp_path)
    thresholds = tmp_path / "t.csv"
    thresholds.write_text("Guinardia,0.8\n")
    with server:
        out = subprocess.run(
            [sys.executable, "-m", "ifcbkit.cli", "abundance", "--dashboard", server.url, "--dataset", "mvco",
             "--start", "2024-03-01", "--end", "2024-03-02", "--carbon", "--per", "bin", "--thresholds",
             str(thresholds)], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert out.returncode == 1  # C: class scores but no features on the dashboard
    assert f"skipped {C}: class scores but no features file" in out.stderr
    rows = {(r["pid"], r["class"]): r for r in csv.DictReader(io.StringIO(out.stdout))}
    assert rows[(A, "Guinardia")]["count"] == "0" and rows[(A, "Guinardia")]["threshold"] == "0.8"
    assert float(rows[(A, "Ciliate")]["carbon_ug"]) == pytest.approx(PROTIST[3000] * 1e-6, rel=1e-11)
    assert rows[(A, "Ciliate")]["ml_analyzed_method"] == "dashboard"
