"""Synthetic IFCB bins with known answers, for tests and benchmarks.

``write_bin`` writes a valid ``.hdr``/``.adc``/``.roi`` triplet whose geometry,
pixels and ADC columns are chosen by the caller, in the layout real instruments
use: D-style (key: value header, 24 ADC columns) or I-style (2005 header, 15 ADC
columns with a trailing comma). No-image targets get width and height 0 and an
offset equal to the ``.roi`` size so far, as on real instruments.
"""

from __future__ import annotations

import inspect
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .adc import D_STYLE_COLUMN_NAMES, I_STYLE_COLUMN_NAMES
from .formats.ids import add_target, parse_bin, time_key

# The 2022 spelling of the D-style column names, as a header's ADCFileFormat.
D_STYLE_ADC_FORMAT = (
    "trigger#, ADCtime, PMTA, PMTB, PMTC, PMTD, PeakA, PeakB, PeakC, PeakD, TimeOfFlight, GrabTimeStart, "
    "GrabTimeEnd, RoiX, RoiY, RoiWidth, RoiHeight, StartByte, ComparatorOut, StartPoint, SignalLength, Status, "
    "RunTime, InhibitTime"
)


@dataclass
class Roi:
    """One synthetic target (one ADC line).

    ``width``/``height`` 0 make a trigger without an image. ``trigger`` defaults to
    the target number (I-style stitched pairs share one). ``pixels`` are the image
    bytes (default: seeded random bytes). ``columns`` override other ADC values by
    canonical name (``ADCtime``, ``RunTime``, ``InhibitTime``, ``triggerOpenTime``, ...).
    """

    width: int = 0
    height: int = 0
    x: int = 0
    y: int = 0
    trigger: int | None = None
    pixels: bytes | None = None
    columns: dict[str, float] = field(default_factory=dict)


RoiSpec = Roi | tuple[Any, ...] | Mapping[str, Any]


class BinBytes(NamedTuple):
    hdr: bytes
    adc: bytes
    roi: bytes


class BinPaths(NamedTuple):
    pid: str
    hdr: Path
    adc: Path
    roi: Path


def _as_roi(spec: RoiSpec) -> Roi:
    if isinstance(spec, Roi):
        return spec
    if isinstance(spec, Mapping):
        return Roi(**spec)
    return Roi(*spec)


def _format(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}"


def _default_columns(style: str, target: int, trigger: int) -> dict[str, float]:
    # Plausible, monotone times: a trigger every 0.5 s.
    t = trigger * 0.5
    if style == "D":
        return {
            "ADCtime": t, "GrabTimeStart": t, "GrabTimeEnd": t + 0.04, "RunTime": t + 0.05,
            "InhibitTime": trigger * 0.01, "TimeOfFlight": -999, "ComparatorOut": -999,
        }  # fmt: skip
    return {"processingEndTime": t + 0.03, "triggerOpenTime": t - 0.2, "frameGrabTime": t + 0.01}


def make_bin(
    bin_id: str,
    rois: Sequence[RoiSpec] = (),
    *,
    header: Mapping[str, Any] | None = None,
    header_text: str | None = None,
    seed: int = 0,
    roi_prefix: bytes = b"",
    roi_suffix: bytes = b"",
) -> BinBytes:
    """The bytes of a synthetic bin (see :func:`write_bin`)."""
    style = parse_bin(bin_id).style
    names = D_STYLE_COLUMN_NAMES if style == "D" else I_STYLE_COLUMN_NAMES
    specs = [_as_roi(spec) for spec in rois]
    rng = random.Random(seed)
    roi = bytearray(roi_prefix)
    lines = []
    for target, spec in enumerate(specs, 1):
        trigger = spec.trigger if spec.trigger is not None else target
        values: dict[str, float] = dict.fromkeys(names, 0)
        values.update(_default_columns(style, target, trigger))
        values.update(trigger=trigger, x=spec.x, y=spec.y, width=spec.width, height=spec.height)
        values["byteOffset"] = len(roi)
        if spec.width and spec.height:
            n = spec.width * spec.height
            pixels = spec.pixels if spec.pixels is not None else rng.randbytes(n)
            if len(pixels) != n:
                raise ValueError(f"target {target}: {len(pixels)} pixel bytes for a {spec.width}x{spec.height} ROI")
            roi += pixels
        unknown = sorted(set(spec.columns) - set(names))
        if unknown:
            raise ValueError(f"target {target}: no {style}-style ADC column {', '.join(map(repr, unknown))}")
        values.update(spec.columns)
        line = ",".join(_format(values[n]) for n in names)
        lines.append(line + ("," if style == "I" else ""))
    roi += roi_suffix
    adc = "".join(line + "\r\n" if style == "I" else line + "\n" for line in lines).encode()
    if header_text is None:
        n_images = sum(1 for spec in specs if spec.width and spec.height)
        header_text = _header_text(style, bin_id, len(specs), n_images, header or {})
    return BinBytes(header_text.encode("latin-1"), adc, bytes(roi))


def _header_text(style: str, bin_id: str, n_triggers: int, n_images: int, values: Mapping[str, Any]) -> str:
    if style == "I":
        v = {"temperature": 11.5, "humidity": 32.25, **values}
        return (
            '"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"\r\n'
            '"Heidi M. Sosik and Robert J. Olson"\r\n'
            '"Woods Hole Oceanographic Institution"\r\n'
            '"SyringeStatus =  0"\r\n'
            '"Temp Humidity BinarizeThresh PMT1hv(ssc) PMT2hv(chl) BlobSizeThresh"\r\n'
            f'" {v["temperature"]}"," {v["humidity"]}"," 30"," .675"," .6"," 10"\r\n'
        )
    timestamp = parse_bin(bin_id).timestamp
    fields: dict[str, Any] = {
        "softwareVersion": "Imaging FlowCytobot Acquisition Software version 2.0; May 2010",
        "sampleTime": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "imagerID": parse_bin(bin_id).instrument,
        "runType": "NORMAL",
        "sampleType": "Normal",
        "triggerCount": n_triggers,
        "roiCount": n_images,
        "runTime": 1200.5,
        "inhibitTime": 12.25,
        "temperature": 20.5,
        "humidity": 30.25,
        "ADCFileFormat": D_STYLE_ADC_FORMAT,
    }
    fields.update(values)
    return "".join(f"{k}: {v}\t\n" if k != "ADCFileFormat" else f"{k}: {v}\n" for k, v in fields.items())


def write_bin(directory: str | os.PathLike[str], bin_id: str, rois: Sequence[RoiSpec] = (), **options: Any) -> BinPaths:
    """Write a synthetic bin ``{bin_id}.hdr/.adc/.roi`` into ``directory`` (created if needed).

    ``rois`` are :class:`Roi` objects, ``(width, height, x, y, trigger)``
    tuples or dicts; ``header`` overrides header values and ``header_text``
    replaces the header entirely. Returns the three paths.
    """
    data = make_bin(bin_id, rois, **options)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = BinPaths(bin_id, directory / f"{bin_id}.hdr", directory / f"{bin_id}.adc", directory / f"{bin_id}.roi")
    for path, content in zip(paths[1:], data):
        path.write_bytes(content)
    return paths


def stitched_pair(trigger: int, a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> list[Roi]:
    """Two I-style ROIs of one trigger with boxes ``(x, y, width, height)``: a stitched pair when they overlap."""
    return [Roi(x=a[0], y=a[1], width=a[2], height=a[3], trigger=trigger),
            Roi(x=b[0], y=b[1], width=b[2], height=b[3], trigger=trigger)]  # fmt: skip


# ----- the store conformance suite ------------------------------------------------------------------

CONFORMANCE_D = "D20240215T010203_IFCB010"
CONFORMANCE_I = "IFCB5_2012_028_081515"
UNKNOWN_BIN = "D20240215T235959_IFCB010"

# (width, height) of the D-style bin's targets: 0 x 0 is a trigger without an image.
_D_SIZES = [(12, 7), (0, 0), (30, 20), (5, 40), (16, 16)]


def conformance_bins(root: str | os.PathLike[str]) -> dict[str, BinPaths]:
    """Write the bins :class:`BinStoreTests` reads into ``root``, where data directories look
    (``D2024/D20240215/`` and ``IFCB5_2012_028/``): a D-style bin with a trigger without an image, and
    an I-style bin with a stitched pair between two single images."""
    root = Path(root)
    d_rois = [Roi(width=w, height=h, x=3 * k, y=k) for k, (w, h) in enumerate(_D_SIZES)]
    i_rois = [Roi(width=20, height=10, x=5, y=5), *stitched_pair(2, (40, 30, 30, 20), (50, 40, 30, 25)),
              Roi(width=8, height=9, x=1, y=2)]  # fmt: skip
    return {
        CONFORMANCE_D: write_bin(root / "D2024" / "D20240215", CONFORMANCE_D, d_rois, seed=1),
        CONFORMANCE_I: write_bin(root / "IFCB5_2012_028", CONFORMANCE_I, i_rois, seed=2),
    }


def conformance_files(root: str | os.PathLike[str]) -> dict[str, bytes]:
    """The files :func:`conformance_bins` wrote, by bin store key ``'{pid}.{ext}'`` (to ``put`` into a store)."""
    return {path.name: path.read_bytes() for path in sorted(Path(root).rglob("*")) if path.is_file()}


async def resolve(value: Any) -> Any:
    """The result of a call on either face: awaited, or an iterator (sync or async) collected into a list."""
    if inspect.isawaitable(value):
        return await value
    if hasattr(value, "__aiter__"):
        return [item async for item in value]
    if isinstance(value, Iterator):
        return list(value)
    return value


async def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    return await resolve(function(*args, **kwargs))


def _pixels(image: Any) -> tuple[tuple[int, int], bytes]:
    return image.size, image.tobytes()


class BinStoreTests:
    """A conformance suite for bin stores and data directories, sync or async, for pytest.

    Subclass it in a test module (the name must start with ``Test``) and implement :meth:`store`,
    which gets a directory where the suite wrote its bins (:func:`conformance_bins`; their files by key
    from :func:`conformance_files`) and returns a store holding them: the store itself, or a context
    manager (sync or async) that yields it. Each test opens a store with it inside an event loop of
    its own, so async stores and clients work; pytest-asyncio is not needed. Answers are checked
    against the bins' known pixels and sizes, and against a data directory over the same files.
    """

    root: Path

    @classmethod
    def setup_class(cls) -> None:
        import tempfile

        cls.root = Path(tempfile.mkdtemp(prefix="ifcbkit-conformance-"))
        conformance_bins(cls.root)

    @classmethod
    def teardown_class(cls) -> None:
        import shutil

        shutil.rmtree(cls.root, ignore_errors=True)

    def store(self, root: Path) -> Any:
        """The store under test, holding the bins under ``root`` (or a context manager yielding it)."""
        raise NotImplementedError("implement store(root) in the subclass")

    def _check(self, test: Any) -> None:
        import asyncio
        import contextlib

        async def run() -> None:
            made = self.store(self.root)
            async with contextlib.AsyncExitStack() as stack:
                if hasattr(made, "__aenter__"):
                    made = await stack.enter_async_context(made)
                elif hasattr(made, "__enter__"):
                    made = stack.enter_context(made)
                await test(made)

        asyncio.run(run())

    @property
    def reference(self) -> Any:
        from .faces.directory import SyncIfcbDataDirectory

        return SyncIfcbDataDirectory(self.root)

    def test_header(self) -> None:
        async def test(store: Any) -> None:
            header = await _call(store.read_header, CONFORMANCE_D)
            assert header["roiCount"] == sum(1 for w, h in _D_SIZES if w), header
            assert await _call(store.read_header, CONFORMANCE_I) == self.reference.read_header(CONFORMANCE_I)

        self._check(test)

    def test_images_by_id_are_the_bins_pixels(self) -> None:
        async def test(store: Any) -> None:
            for target, (width, height) in enumerate(_D_SIZES, 1):
                if width:
                    image = await _call(store.read_image, add_target(CONFORMANCE_D, target))
                    assert image.size == (width, height)
            reference = self.reference
            for roi_id in reference.list_roi_ids(CONFORMANCE_I, stitch=False):
                for stitch in (True, False):
                    if stitch and roi_id not in reference.list_roi_ids(CONFORMANCE_I):
                        continue
                    got = await _call(store.read_image, roi_id, stitch=stitch)
                    assert _pixels(got) == _pixels(reference.read_image(roi_id, stitch=stitch)), roi_id

        self._check(test)

    def test_whole_bins_subsets_and_streams(self) -> None:
        async def test(store: Any) -> None:
            reference = self.reference
            for pid in (CONFORMANCE_D, CONFORMANCE_I):
                expected = {t: _pixels(i) for t, i in reference.read_images(pid).items()}
                whole = await _call(store.read_images, pid)
                assert {t: _pixels(i) for t, i in whole.items()} == expected
                some = await _call(store.read_images, pid, [min(expected), max(expected)])
                assert {t: _pixels(i) for t, i in some.items()} == {
                    t: expected[t] for t in (min(expected), max(expected))
                }
                streamed = await _call(store.iter_images, pid, chunk_size=256)
                assert [(r, _pixels(i)) for r, i in streamed] == [
                    (add_target(pid, t), v) for t, v in sorted(expected.items())
                ]

        self._check(test)

    def test_listings_of_a_bins_images(self) -> None:
        async def test(store: Any) -> None:
            reference = self.reference
            for pid in (CONFORMANCE_D, CONFORMANCE_I):
                assert await _call(store.list_images, pid) == reference.list_images(pid)
                for stitch in (True, False):
                    assert await _call(store.list_roi_ids, pid, stitch=stitch) == reference.list_roi_ids(
                        pid, stitch=stitch
                    )
            assert len(await _call(store.list_roi_ids, CONFORMANCE_I)) == 3  # the pair is one image

        self._check(test)

    def test_existence(self) -> None:
        async def test(store: Any) -> None:
            hidden = add_target(CONFORMANCE_I, 3)  # the second half of the stitched pair
            assert await _call(store.image_exists, add_target(CONFORMANCE_D, 1)) is True
            assert await _call(store.image_exists, add_target(CONFORMANCE_D, 2)) is False  # no image
            assert await _call(store.image_exists, hidden) is False
            assert await _call(store.image_exists, hidden, stitch=False) is True
            assert await _call(store.image_exists, add_target(UNKNOWN_BIN, 1)) is False
            ids = [add_target(CONFORMANCE_I, t) for t in (1, 2, 3, 9)]
            assert await _call(store.images_exist, CONFORMANCE_I, ids) == dict(zip(ids, [True, True, False, False]))

        self._check(test)

    def test_metadata(self) -> None:
        async def test(store: Any) -> None:
            for pid in (CONFORMANCE_D, CONFORMANCE_I):
                got = await _call(store.bin_metadata, pid, method="adc")
                expected = self.reference.bin_metadata(pid)
                assert {k: got[k] for k in ("num_images", "num_triggers", "size", "ml_analyzed")} == {
                    k: expected[k] for k in ("num_images", "num_triggers", "size", "ml_analyzed")
                }

        self._check(test)

    def test_unknown_and_malformed_ids(self) -> None:
        from .errors import InvalidIdentifierError, NotFoundError

        async def test(store: Any) -> None:
            missing = [
                (store.read_header, UNKNOWN_BIN),
                (store.read_image, add_target(UNKNOWN_BIN, 1)),
                (store.read_image, add_target(CONFORMANCE_D, 99)),
                (store.read_image, add_target(CONFORMANCE_I, 3)),  # the hidden half
            ]
            for method, argument in missing:
                try:
                    await _call(method, argument)
                except NotFoundError:
                    continue
                raise AssertionError(f"expected NotFoundError for {argument}")
            for bad in ("../etc/passwd", "D2024_IFCB1", ""):
                try:
                    await _call(store.read_image, bad)
                except InvalidIdentifierError:
                    continue
                raise AssertionError(f"expected InvalidIdentifierError for {bad!r}")

        self._check(test)

    def test_files_by_key(self) -> None:
        async def test(store: Any) -> None:
            if not hasattr(store, "get"):
                return  # a data directory: no keys
            files = conformance_files(self.root)
            for key, data in files.items():
                assert await _call(store.get, key) == data
                assert await _call(store.exists, key) is True
            assert await _call(store.exists, f"{UNKNOWN_BIN}.hdr") is False
            assert await _call(store.exists, "not a key") is False
            roi = files[f"{CONFORMANCE_D}.roi"]
            if hasattr(store, "get_range"):  # optional for a store of one's own
                assert await _call(store.get_range, f"{CONFORMANCE_D}.roi", 10, 50) == roi[10:50]
                assert await _call(store.get_range, f"{CONFORMANCE_D}.roi", len(roi) - 5, len(roi) + 99) == roi[-5:]

        self._check(test)

    def test_listing_bins(self) -> None:
        """The store's source (``store.source``) lists every bin the suite wrote, each once, in
        sample-time order, within a time range and by instrument. Skipped for a store of one's own
        that says it cannot list (:class:`~ifcbkit.errors.UnsupportedOperationError`)."""
        from .engine.requests import iterate_async
        from .errors import UnsupportedOperationError

        written = [CONFORMANCE_I, CONFORMANCE_D]  # 2012, then 2024
        d_time = "2024-02-15T01:02:03"

        async def test(store: Any) -> None:
            source = store.source

            async def listed(*args: Any, **kwargs: Any) -> list[str]:
                return [pid async for pid in iterate_async(source.list_bins(*args, **kwargs))]

            try:
                everything = await listed()
            except UnsupportedOperationError as e:
                if type(store).__module__.split(".")[0] == "ifcbkit":
                    raise AssertionError(f"{type(store).__name__}'s source cannot list: {e}") from e
                # a store of one's own with only get and exists: it says so, and its reads still work
                assert "cannot list" in str(e), e
                return
            assert [pid for pid in everything if pid in written] == written, everything
            assert everything == sorted(everything, key=time_key) and len(set(everything)) == len(everything)
            ranges: list[tuple[tuple[Any, ...], dict[str, Any], list[str]]] = [
                ((d_time,), {}, [CONFORMANCE_D]),
                ((), {"end_time": d_time}, [CONFORMANCE_I]),
                (("2012-01-28", "2012-01-29"), {}, [CONFORMANCE_I]),
                ((d_time, "2024-02-15T01:02:04"), {}, [CONFORMANCE_D]),
                (("2013-01-01", "2024-01-01"), {}, []),
                ((), {"instrument": 5}, [CONFORMANCE_I]),
                ((), {"instrument": "IFCB010"}, [CONFORMANCE_D]),
                ((), {"instrument": [5, 10]}, written),
                (("2024-01-01",), {"instrument": 5}, []),
            ]
            for args, kwargs, expected in ranges:
                got = await listed(*args, **kwargs)
                assert [pid for pid in got if pid in written] == expected, (args, kwargs, got)

        self._check(test)
