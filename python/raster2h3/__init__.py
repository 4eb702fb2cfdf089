"""raster2h3 for Python: rasters to H3-indexed rows, in memory as Arrow or on disk as Parquet.

A thin binding over the raster2h3 C library (libraster2h3.so) through ctypes: no compiler is
needed at import and no Python package is required. ``to_arrow`` runs a conversion and hands its
rows over as Arrow record batches through the Arrow PyCapsule interface, so pyarrow, Polars and
DuckDB read them directly::

    import pyarrow as pa, raster2h3
    table = pa.RecordBatchReader.from_stream(raster2h3.to_arrow("carbon.tif", resolution=8)).read_all()

``convert`` writes the Hive-partitioned Parquet dataset, as the ``raster2h3 convert`` command.
"""

import builtins
import ctypes
import ctypes.util
import os
from pathlib import Path

__all__ = ["to_arrow", "convert", "ArrowStream", "Error", "InvalidError", "InputError",
           "CRSError", "IOError", "TransientError", "FormatError", "H3Error", "MemoryError",
           "InternalError", "Interrupted", "library_path", "version"]


# ---- errors: one class per status of the library ---------------------------------------------

class Error(Exception):
    """An error of the raster2h3 library; ``status`` is its status code."""
    status = None


class InvalidError(Error, ValueError):
    """A bad argument or option (R2H_ERR_INVALID)."""
    status = 2


class IOError(Error, OSError):  # noqa: A001 - the library's name for it
    """A read, write, fsync or rename failed (R2H_ERR_IO): disk full, permissions."""
    status = 3


class InputError(Error):
    """The input raster is missing, unreadable or unusable (R2H_ERR_INPUT)."""
    status = 4


class CRSError(Error):
    """The CRS is missing or cannot be transformed to WGS84 (R2H_ERR_CRS)."""
    status = 5


class H3Error(Error):
    """The H3 library returned an error (R2H_ERR_H3)."""
    status = 6


class FormatError(Error):
    """A value the output cannot hold (R2H_ERR_FORMAT)."""
    status = 7


class InternalError(Error):
    """An invariant of the library broke: a bug (R2H_ERR_INTERNAL)."""
    status = 8


class Interrupted(Error):
    """The run was stopped (R2H_ERR_INTERRUPTED)."""
    status = 9


class TransientError(IOError):
    """A retryable I/O failure: HTTP 5xx/429, timeout, connection (R2H_ERR_TRANSIENT)."""
    status = 10


class MemoryError(Error, builtins.MemoryError):  # noqa: A001
    """An allocation failed (R2H_ERR_NOMEM)."""
    status = 1


_ERRORS = {c.status: c for c in (MemoryError, InvalidError, IOError, InputError, CRSError, H3Error,
                                 FormatError, InternalError, Interrupted, TransientError)}


def _raise(status, msg):
    raise _ERRORS.get(status, Error)(msg or f"raster2h3 error {status}")


# ---- the library -------------------------------------------------------------------------

def library_path():
    """Where libraster2h3.so is taken from: $RASTER2H3_LIBRARY, the copy installed with this
    package, the repository's build/ (a checkout used in place), or the system's."""
    env = os.environ.get("RASTER2H3_LIBRARY")
    if env:
        return env
    here = Path(__file__).resolve().parent
    for cand in (here / "_lib" / "libraster2h3.so",
                 here.parent.parent / "build" / "libraster2h3.so"):
        if cand.exists():
            return str(cand)
    found = ctypes.util.find_library("raster2h3")
    if found:
        return found
    raise ImportError("libraster2h3.so not found: run `make build` in the raster2h3 repository "
                      "and `pip install ./python`, or set RASTER2H3_LIBRARY")


_lib = ctypes.CDLL(library_path())


class _Options(ctypes.Structure):
    """struct r2h_convert_options as far as this binding knows it: struct_size tells the library
    where it ends, and fields added later take their defaults."""
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("input", ctypes.c_char_p),
        ("output", ctypes.c_char_p),
        ("resolution", ctypes.c_int),
        ("band", ctypes.c_int),
        ("bands", ctypes.POINTER(ctypes.c_int)),
        ("nbands", ctypes.c_int),
        ("work_unit", ctypes.c_int),
        ("value_name", ctypes.c_char_p),
        ("value_names", ctypes.POINTER(ctypes.c_char_p)),
        ("nvalue_names", ctypes.c_int),
        ("has_nodata", ctypes.c_int),
        ("nodata", ctypes.c_double),
        ("unscale", ctypes.c_int),
        ("srs", ctypes.c_char_p),
        ("profile", ctypes.c_int),
        ("compression_level", ctypes.c_int),
        ("threads", ctypes.c_int),
        ("memory", ctypes.c_uint64),
        ("tmpdir", ctypes.c_char_p),
        ("progress", ctypes.c_int),
        ("overwrite", ctypes.c_int),
        ("dry_run", ctypes.c_int),
        ("reference_index", ctypes.c_int),
        ("aggregate", ctypes.c_int),
        ("stats", ctypes.c_uint),
        ("classes", ctypes.POINTER(ctypes.c_double)),
        ("nclasses", ctypes.c_int),
        ("density_unit", ctypes.c_int),
        ("parents", ctypes.c_uint),
        ("cell_string", ctypes.c_int),
        ("event", ctypes.c_void_p),
        ("event_ctx", ctypes.c_void_p),
        ("method", ctypes.c_int),
        ("resample", ctypes.c_int),
        ("min_coverage", ctypes.c_double),
        ("cell_type", ctypes.c_int),
        ("variable", ctypes.c_char_p),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("line", ctypes.c_char_p),
        ("pixels_done", ctypes.c_uint64),
        ("pixels_total", ctypes.c_uint64),
        ("elapsed_s", ctypes.c_double),
        ("final", ctypes.c_int),
    ]


class _Result(ctypes.Structure):
    _fields_ = [
        ("pixels_read", ctypes.c_uint64),
        ("pixels_valid", ctypes.c_uint64),
        ("rows_written", ctypes.c_uint64),
        ("partitions_written", ctypes.c_int),
        ("spilled_bytes", ctypes.c_uint64),
        ("partitions_skipped", ctypes.c_int),
        ("partitions_removed", ctypes.c_int),
        ("index_fallbacks", ctypes.c_uint64),
    ]


class _Stream(ctypes.Structure):
    """struct ArrowArrayStream (the callbacks as plain pointers: only release is called here)."""
    _fields_ = [
        ("get_schema", ctypes.c_void_p),
        ("get_next", ctypes.c_void_p),
        ("get_last_error", ctypes.c_void_p),
        ("release", ctypes.c_void_p),
        ("private_data", ctypes.c_void_p),
    ]


_EVENT_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_Event))
_RELEASE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

_lib.r2h_version.restype = ctypes.c_char_p
_lib.r2h_convert_options_init.argtypes = [ctypes.c_void_p]
_lib.r2h_stats_parse.argtypes = [ctypes.c_char_p]
_lib.r2h_stats_parse.restype = ctypes.c_uint
_lib.r2h_convert.argtypes = [ctypes.POINTER(_Options), ctypes.POINTER(_Result), ctypes.c_char_p,
                             ctypes.c_size_t]
_lib.r2h_convert_to_arrow.argtypes = [ctypes.POINTER(_Options), ctypes.c_void_p,
                                      ctypes.c_char_p, ctypes.c_size_t]
_lib.r2h_gdal_defaults.argtypes = [ctypes.c_uint64]

_libc = ctypes.CDLL(None)
_libc.malloc.restype = ctypes.c_void_p
_libc.malloc.argtypes = [ctypes.c_size_t]
_libc.free.argtypes = [ctypes.c_void_p]

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_capsule_ptr = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_ptr.restype = ctypes.c_void_p
_capsule_ptr.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_CAPSULE_NAME = b"arrow_array_stream"


def version():
    """The library's version string."""
    return _lib.r2h_version().decode()


_METHODS = {"point": 0, "sample": 1, "auto": 2, "overlay": 3}
_RESAMPLE = {"nearest": 0, "bilinear": 1, "cubic": 2}
_DENSITY = {None: 0, "m2": 1, "ha": 2, "km2": 3}
_CELL_TYPES = {"uint64": 0, "int64": 1, "string": 2}


def _options(src, resolution, *, method="point", variable=None, band=None, bands=None,
             value_name=None,
             value_names=None, nodata=None, unscale=False, srs=None, work_unit=None, stats=None,
             classes=None, density_unit=None, parents=(), cell_type="uint64", cell_format=None,
             resample="nearest",
             min_coverage=0.0, threads=0, memory=None, tmpdir=None, compression_level=3,
             overwrite=False, reference_index=False):
    """The options struct and the Python objects its pointers borrow (kept alive with it)."""
    raw = ctypes.create_string_buffer(4096)  # room for any later version of the struct
    _lib.r2h_convert_options_init(raw)
    o = _Options.from_buffer_copy(raw.raw[:ctypes.sizeof(_Options)])
    o.struct_size = ctypes.sizeof(_Options)
    keep = []

    def cstr(v):
        if v is None:
            return None
        b = os.fsencode(v) if isinstance(v, (str, os.PathLike)) else bytes(v)
        keep.append(b)
        return b

    o.input = cstr(src)
    o.variable = cstr(variable)
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise InvalidError(f"resolution must be an int 0..15, not {resolution!r}")
    o.resolution = resolution
    if method not in _METHODS:
        raise InvalidError(f"method must be one of {sorted(_METHODS)}, not {method!r}")
    o.method = _METHODS[method]
    if resample not in _RESAMPLE:
        raise InvalidError(f"resample must be one of {sorted(_RESAMPLE)}, not {resample!r}")
    o.resample = _RESAMPLE[resample]
    if band is not None:
        o.band = int(band)
    if bands is not None:
        if bands == "all":
            o.nbands = -1
        else:
            arr = (ctypes.c_int * len(bands))(*[int(b) for b in bands])
            keep.append(arr)
            o.bands, o.nbands = arr, len(bands)
    o.value_name = cstr(value_name)
    if value_names is not None:
        arr = (ctypes.c_char_p * len(value_names))(*[cstr(n) for n in value_names])
        keep.append(arr)
        o.value_names, o.nvalue_names = arr, len(value_names)
    if nodata is not None:
        o.has_nodata, o.nodata = 1, float(nodata)
    o.unscale = int(bool(unscale))
    o.srs = cstr(srs)
    o.work_unit = -1 if work_unit is None else int(work_unit)
    if stats is not None:
        if method == "point":
            o.aggregate = 1
        text = stats if isinstance(stats, str) else ",".join(stats)
        o.stats = _lib.r2h_stats_parse(text.encode())
        if not o.stats:
            raise InvalidError(f"unknown statistic in {text!r}")
    if classes is not None:
        arr = (ctypes.c_double * len(classes))(*[float(c) for c in classes])
        keep.append(arr)
        o.classes, o.nclasses = arr, len(classes)
    if density_unit not in _DENSITY:
        raise InvalidError(f"density_unit must be one of m2, ha, km2, not {density_unit!r}")
    o.density_unit = _DENSITY[density_unit]
    for r in parents:
        o.parents |= 1 << int(r)
    if cell_format is not None:  # the older name, as the command's --cell-format
        cell_type = cell_format
    if cell_type not in _CELL_TYPES:
        raise InvalidError(f"cell_type must be 'uint64', 'int64' or 'string', not {cell_type!r}")
    o.cell_type = _CELL_TYPES[cell_type]
    o.min_coverage = float(min_coverage)
    o.threads = int(threads)
    if memory is not None:
        o.memory = _parse_size(memory)
    o.tmpdir = cstr(tmpdir)
    o.compression_level = int(compression_level)
    o.overwrite = int(bool(overwrite))
    o.reference_index = int(bool(reference_index))
    o.progress = 0
    # As the raster2h3 command: GDAL's block cache at 1/16 of the budget (8..256 MiB) unless
    # GDAL_CACHEMAX is set (GDAL's own default, 5% of RAM, would sit on top of the budget).
    _lib.r2h_gdal_defaults(o.memory)
    return o, keep


def _parse_size(v):
    if isinstance(v, int):
        return v
    s = str(v).strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if s and s[-1] in mult:
        return int(float(s[:-1]) * mult[s[-1]])
    return int(s)


# ---- Arrow -------------------------------------------------------------------------------

@_RELEASE_FN
def _capsule_destructor(capsule):
    ptr = _capsule_ptr(capsule, _CAPSULE_NAME)
    if ptr:
        stream = _Stream.from_address(ptr)
        if stream.release:
            _RELEASE_FN(stream.release)(ptr)
        _libc.free(ptr)


class ArrowStream:
    """The rows of one conversion as a stream of Arrow record batches.

    Hand it to any reader of the Arrow PyCapsule interface (``__arrow_c_stream__``):
    ``pyarrow.RecordBatchReader.from_stream(s)``, ``pyarrow.table(s)``, ``polars.from_arrow(s)``,
    ``duckdb.sql("SELECT ... FROM s")``. The conversion runs in threads of the library while the
    batches are read (at most two finished batches wait), so memory stays bounded by the run's
    budget. Dropping the stream before its end stops the run."""

    def __init__(self, ptr, options, keep):
        self._ptr = ptr
        self._options = options
        self._keep = keep

    def __arrow_c_stream__(self, requested_schema=None):
        """A PyCapsule holding the stream. The first call hands over the run started by
        to_arrow; each further call starts the conversion again (DuckDB asks twice: once for
        the schema, once for the rows; a stream released early stops its run)."""
        ptr, self._ptr = self._ptr, None
        if ptr is None:
            ptr = _start(self._options)
        return _capsule_new(ptr, _CAPSULE_NAME, ctypes.cast(_capsule_destructor, ctypes.c_void_p))

    def to_pyarrow(self):
        """A pyarrow.RecordBatchReader over the stream (needs pyarrow)."""
        import pyarrow as pa
        return pa.RecordBatchReader.from_stream(self)

    def close(self):
        """Stop the run (if still going) and free the stream; a no-op once consumed."""
        if self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            stream = _Stream.from_address(ptr)
            if stream.release:
                _RELEASE_FN(stream.release)(ptr)
            _libc.free(ptr)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def to_arrow(src, resolution=8, *, method="point", **options):
    """Convert the raster ``src`` (path, s3:// URL or GDAL dataset name) at H3 ``resolution``
    and return its rows as an :class:`ArrowStream`: the same columns, types and rows as the
    Parquet files ``convert`` writes with these options (cells as uint64, or strings with
    ``cell_format="string"``), one batch per row group of each h0 partition, sorted by cell
    within a partition (partitions in any order).

    Options (as the command's flags): method ("point", "sample", "overlay", "auto"), variable
    (a NetCDF/HDF container's variable), band,
    bands (list or "all"), value_name, value_names, nodata, unscale, srs, work_unit, stats
    (list or comma text; aggregates the point method), classes, density_unit ("m2", "ha",
    "km2"), parents (resolutions), cell_type ("uint64", "int64", "string"; cell_format is
    the same), resample, min_coverage, threads, memory
    (bytes or "512M"; default 1G), tmpdir, reference_index. Errors found before the first batch
    (missing input, bad options, unknown CRS) raise here; later ones raise from the reader.

    Like the raster2h3 command, the first call sets GDAL's block cache (GDAL_CACHEMAX) to 1/16
    of the memory budget when neither the environment nor GDAL's configuration sets it."""
    o, keep = _options(src, resolution, method=method, **options)
    return ArrowStream(_start(o), o, keep)


def _start(o):
    """Start a run of options o: a malloc'd struct ArrowArrayStream."""
    ptr = _libc.malloc(ctypes.sizeof(_Stream))
    if not ptr:
        raise MemoryError("out of memory")
    ctypes.memset(ptr, 0, ctypes.sizeof(_Stream))
    err = ctypes.create_string_buffer(1024)
    st = _lib.r2h_convert_to_arrow(ctypes.byref(o), ptr, err, len(err))
    if st != 0:
        _libc.free(ptr)
        _raise(st, err.value.decode(errors="replace"))
    return ptr


def convert(src, output, resolution=8, *, method="point", progress=None, warn=None, **options):
    """Convert ``src`` to the Hive-partitioned Parquet dataset ``output`` (directory or s3://
    URL), as ``raster2h3 convert``: resumable, one file per h0 partition, a manifest at the end.
    ``progress(done, total, elapsed_s, final)`` is called from the run's threads every few
    seconds (pixels, or cells for the cell methods); ``warn(line)`` with each warning. Options
    as :func:`to_arrow` plus ``overwrite`` and ``compression_level``. Returns a dict of the
    run's counters."""
    o, keep = _options(src, resolution, method=method, **options)
    o.output = os.fsencode(output)
    keep.append(o.output)

    @_EVENT_FN
    def on_event(_ctx, ev):
        e = ev.contents
        if e.kind == 0 and progress is not None:
            progress(e.pixels_done, e.pixels_total, e.elapsed_s, bool(e.final))
        elif e.kind == 3 and warn is not None and e.line:
            warn(e.line.decode(errors="replace"))

    if progress is not None or warn is not None:
        o.event = ctypes.cast(on_event, ctypes.c_void_p)
        o.progress = 1 if progress is not None else 0
    res = _Result()
    err = ctypes.create_string_buffer(1024)
    st = _lib.r2h_convert(ctypes.byref(o), ctypes.byref(res), err, len(err))
    if st != 0:
        _raise(st, err.value.decode(errors="replace"))
    return {name: getattr(res, name) for name, _ in _Result._fields_}
