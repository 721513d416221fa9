"""Generate the project's bundled sample data with ``ifcbkit.testing``.

    python tests/data/generate.py

writes ``tests/data/sample/`` (a small data tree with D-style and I-style bins,
stitched pairs, no-image targets, an empty bin and decoys), ``tests/data/products/``
(class scores as the dashboard serves them, for the sample's bins) and
``tests/data/headers/`` (one file per header family variant). The output is
deterministic; ``tests/test_sample_data.py`` checks that the committed files
equal a fresh generation.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

from ifcbkit.testing import Roi, stitched_pair, write_bin

HERE = Path(__file__).resolve().parent


def _d_rois(rng: random.Random, n: int, *, t0: float = 0.0) -> list[Roi]:
    """n triggers of a D-style bin: about one in six without an image, times that advance by 0.5 s."""
    rois = []
    for k in range(1, n + 1):
        t = t0 + 0.5 * k
        columns = {"ADCtime": t, "GrabTimeStart": t, "GrabTimeEnd": t + 0.04, "RunTime": t + 0.05,
                   "InhibitTime": round(0.01 * k, 6)}  # fmt: skip
        if k % 6 == 0:
            rois.append(Roi(columns=columns))
        else:
            w, h = rng.randrange(16, 96, 8), rng.randrange(12, 64)
            rois.append(Roi(width=w, height=h, x=rng.randrange(0, 1300), y=rng.randrange(0, 1000), columns=columns))
    return rois


def _i_rois() -> list[Roi]:
    """An I-style bin with two stitched pairs, a same-trigger non-overlapping pair and a no-image trigger."""
    rois = [Roi(width=40, height=30, x=100, y=200, trigger=1)]
    rois += stitched_pair(2, (210, 432, 60, 40), (250, 447, 50, 30))
    rois += [Roi(width=32, height=20, x=10, y=10, trigger=3), Roi(width=32, height=20, x=400, y=400, trigger=3)]
    rois += [Roi(trigger=4)]
    rois += stitched_pair(5, (0, 0, 30, 30), (20, 5, 40, 20))
    rois += [Roi(width=24, height=24, x=600, y=300, trigger=6)]
    for k, roi in enumerate(rois):
        roi.columns = {"triggerOpenTime": 0.3 * roi.trigger - 0.1, "frameGrabTime": 0.3 * roi.trigger + 0.02,
                       "processingEndTime": 0.3 * roi.trigger + 0.05 + 0.001 * k}  # fmt: skip
    return rois


def generate_sample(root: Path) -> None:
    rng = random.Random(20240215)
    day1 = root / "data" / "D2024" / "D20240215"
    day2 = root / "data" / "D2024" / "D20240216"
    gps = {"gpsLatitude": 41.325, "gpsLongitude": -70.5667}
    write_bin(day1, "D20240215T150055_IFCB010", _d_rois(rng, 40), header=gps, seed=1)
    write_bin(day1, "D20240215T152410_IFCB010", _d_rois(rng, 30), header={**gps, "gpsLatitude": 41.335}, seed=2)
    write_bin(day2, "D20240216T010203_IFCB010", _d_rois(rng, 24), seed=3)
    write_bin(day2, "D20240216T020000_IFCB010", [], header={"runTime": 0.62, "inhibitTime": 0.04}, seed=4)
    write_bin(root / "data" / "IFCB5_2014_100", "IFCB5_2014_100_120000", _i_rois(), seed=5)
    # decoys the default include/exclude rules must not list
    write_bin(root / "data" / "skip", "D20240215T160000_IFCB010", _d_rois(rng, 3), seed=6)
    write_bin(root / "notes", "D20240215T170000_IFCB010", _d_rois(rng, 3), seed=7)


CLASSES = ("Chaetoceros", "Guinardia", "Skeletonema", "detritus")


def generate_products(data: Path, root: Path) -> None:
    """``{pid}_class_scores.csv`` for every sample bin with images: seeded scores whose winner is
    confident (>= 0.7) for most ROIs; in ``D20240216T010203_IFCB010`` no ROI reaches 0.7."""
    from ifcbkit import SyncIfcbDataDirectory

    directory = SyncIfcbDataDirectory(data)
    rng = random.Random(7)
    for fileset in sorted(directory.list(), key=lambda f: f["pid"]):  # the seeded draws in id order
        pid = fileset["pid"]
        roi_ids = directory.list_roi_ids(pid)
        if not roi_ids:
            continue
        timid = pid == "D20240216T010203_IFCB010"
        lines = ["pid," + ",".join(CLASSES)]
        for roi_id in roi_ids:
            winner = rng.randrange(len(CLASSES))
            top = rng.uniform(0.3, 0.65) if timid else rng.choice((rng.uniform(0.72, 0.98), rng.uniform(0.4, 0.6)))
            rest = [rng.uniform(0, (1 - top) / len(CLASSES)) for _ in CLASSES]
            scores = [top if i == winner else rest[i] for i in range(len(CLASSES))]
            lines.append(roi_id + "," + ",".join(f"{s:.4f}" for s in scores))
        day = root / os.path.relpath(os.path.dirname(fileset["hdr"]), data / "data")
        day.mkdir(parents=True, exist_ok=True)
        (day / f"{pid}_class_scores.csv").write_text("\n".join(lines) + "\n")


_V1_CONTEXT = (
    '"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"\r\n'
    '"Heidi M. Sosik and Robert J. Olson"\r\n'
    '"Woods Hole Oceanographic Institution"\r\n'
)

HEADERS = {
    # 2005 family: no values at all (the oldest files), then 3, 5 and 6 value columns
    "v1_0values.hdr": _V1_CONTEXT + '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"\r\n',
    "v1_3values.hdr": _V1_CONTEXT
    + '"SyringeStatus =  1"\r\n"Temp Humidity BinarizeThresh"\r\n'
    + '" 12.75"," 40.5"," 25"\r\n',
    "v1_5values.hdr": _V1_CONTEXT
    + '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl)"\r\n'
    + '" 9.5"," 51.25"," 28"," .7"," .55"\r\n',
    "v1_6values.hdr": _V1_CONTEXT
    + '"SyringeStatus =  0"\r\n"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"\r\n'
    + '" 11.4799732421875"," 32.167437512207"," 30"," .675"," .6"," 10"\r\n',
    # 2010 free-text family with a Sample Date line
    "v2_2010_sample_date.hdr": "Imaging FlowCytobot Acquisition Software version 2.0; May 2010\r\n"
    + "Sample Date: 06/28/2010 14:37:12\r\n"
    + "run time = 1197.363 s  inhibit time = 38.952 s\r\n"
    + "18.25 temperature, 45.5 humidity\r\n",
    # key: value family, 2013 and 2022 spellings of the ADC columns
    "kv_2013.hdr": "softwareVersion: Imaging FlowCytobot Acquisition Software version 2.0, build 380; May 2010\n"
    "Housekeeping firmware version 31\n"
    "sampleTime: 2013-05-26T09:52:07Z\n"
    "imagerID: 13\t\nDataFilePath: c:/Data\t\nrunTime: 1231.024861\t\ninhibitTime: 11.622980\t\n"
    "altSamplePortNumber: 0\t\nautoWindowsShutdown: 0\t\nrunType: NORMAL\n"
    "ADCFileFormat: trigger#, ADC_time, PMTA, PMTB, PMTC, PMTD, peakA, peakB, peakC, peakD, time of flight, "
    "grabtimestart, grabtimeend, ROIx, ROIy, ROIwidth, ROIheight,start_byte, comparator_out, STartPoint, "
    "SignalLength, status, runTime, inhibitTime\n",
    "kv_2022.hdr": "SoftwareVersion: IFCBacquire 2.3.1.0\n"
    "sampleTime: Jul/17/2022 16:17:39.00 UTC\t\n"
    "imagerID: 127\t\nrunTime: 1200.004\t\ninhibitTime: 27.3\t\ntriggerCount: 7031\t\nroiCount: 6521\t\n"
    "gpsLatitude: 41.325\t\ngpsLongitude: -70.5667\t\nsampleType: Normal\t\nFlashlampOn: True\t\n"
    "outputFileDirectory: D:\\data\\{0}\t\n"
    "ADCFileFormat: trigger#, ADCtime, PMTA, PMTB, PMTC, PMTD, PeakA, PeakB, PeakC, PeakD, TimeOfFlight, "
    "GrabTimeStart, GrabTimeEnd, RoiX, RoiY, RoiWidth, RoiHeight, StartByte, ComparatorOut, StartPoint, "
    "SignalLength, Status, RunTime, InhibitTime\n",
}


def generate_headers(root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in HEADERS.items():
        (root / name).write_bytes(text.encode("latin-1"))


def generate(target: Path = HERE) -> None:
    for sub in ("sample", "products", "headers"):
        shutil.rmtree(target / sub, ignore_errors=True)
    generate_sample(target / "sample")
    generate_products(target / "sample", target / "products")
    generate_headers(target / "headers")


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
