"""test_info_preview.py - `raster2h3 info` (text and JSON) and `raster2h3 preview` (PNG map).

The PNG is decoded here with zlib (8-bit RGBA, non-interlaced, the five PNG filters) so no
imaging library is needed.
"""
import json
import struct
import zlib

import h3
import numpy as np
import pyarrow.dataset as pads

import rasters


def decode_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert (depth, ctype, interlace) == (8, 6, 0)
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * 4
    out = np.zeros((h, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1)
        line = line.astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        for x in range(stride):
            a = cur[x - 4] if x >= 4 else 0
            b = prev[x]
            c = prev[x - 4] if x >= 4 else 0
            if f == 0:
                p = 0
            elif f == 1:
                p = a
            elif f == 2:
                p = b
            elif f == 3:
                p = (a + b) // 2
            else:
                pa_, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa_ <= pb and pa_ <= pc else (b if pb <= pc else c)
            cur[x] = (line[x] + p) & 0xFF
        out[y] = cur
        prev = cur
    return out.reshape(h, w, 4)


def make_dataset(run_cli, raster_dir, tmp_path, *args):
    rng = np.random.default_rng(3)
    data = rng.integers(1, 100, (60, 90)).astype(np.uint16)
    data[:, :30] = 0  # NoData: the western third has no cells
    src = rasters.write_raster(raster_dir / "r.tif", data, gt=(0.0, 1.0, 0, 30.0, 0, -1.0),
                               nodata=0)
    out = tmp_path / "out"
    p = run_cli("convert", src, out, "--resolution", 2, "--quiet", *args)
    assert p.returncode == 0, p.stderr
    return src, out


def test_info_text_and_json(run_cli, raster_dir, tmp_path):
    src, out = make_dataset(run_cli, raster_dir, tmp_path, "--aggregate", "--stat",
                            "count,mean,max")
    p = run_cli("info", out, "--json")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    assert j["rows"] == t.num_rows
    assert j["partitions"] == len(list(out.glob("h0=*")))
    assert j["resolution"] == 2 and j["mode"] == "aggregate"
    assert j["source"] == str(src)
    cols = {c["name"]: c for c in j["columns"]}
    assert cols["value_max"]["max"] == max(t.column("value_max").to_pylist())
    assert cols["count"]["min"] == min(t.column("count").to_pylist())
    assert cols["value_mean"]["type"] == "double"
    p = run_cli("info", out)
    assert p.returncode == 0 and "mode:        aggregate" in p.stdout
    assert f"rows:        {t.num_rows}" in p.stdout
    assert run_cli("info", tmp_path / "missing").returncode != 0


def test_preview_png(run_cli, raster_dir, tmp_path):
    src, out = make_dataset(run_cli, raster_dir, tmp_path)
    png = tmp_path / "p.png"
    p = run_cli("preview", out, png, "--width", 360)
    assert p.returncode == 0, p.stderr
    img = decode_png(png)
    assert img.shape == (180 + 28, 360, 4)  # world: 1 pixel per degree, plus the legend
    t = pads.dataset(str(out), format="parquet", partitioning="hive").to_table()
    cells = set(t.column("h2").to_pylist())
    for c in list(cells)[:200]:
        lat, lng = h3.cell_to_latlng(h3.int_to_str(c))
        x, y = int((lng + 180)), int((90 - lat))
        assert img[y, x, 3] == 255, (lat, lng)  # coloured at data cells
    # Far from the data (the raster spans lng 30..90, lat -30..30): transparent.
    for lat, lng in ((60, -120), (-60, 150), (0, -60), (80, 0)):
        assert h3.str_to_int(h3.latlng_to_cell(lat, lng, 2)) not in cells
        assert img[int(90 - lat), int(lng + 180), 3] == 0
    # The legend is opaque.
    assert (img[180:, :, 3] == 255).all()
    png2 = tmp_path / "d.png"
    p = run_cli("preview", out, png2, "--width", 200, "--extent", "data")
    assert p.returncode == 0, p.stderr
    img2 = decode_png(png2)
    assert img2.shape[1] == 200 and (img2[:-28, :, 3] == 255).mean() > 0.5
    assert run_cli("preview", out, png2, "--extent", "moon").returncode == 2
