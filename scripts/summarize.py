"""Print a short summary of a raster2h3 output dataset with DuckDB (used by `make demo`)."""
import sys

import duckdb

root = sys.argv[1]
con = duckdb.connect()
glob = f"{root}/h0=*/data_0.parquet"
print(f"dataset {root}:")
for line in con.sql(
    f"SELECT h0, count(*) AS rows, min(COLUMNS(* EXCLUDE (h0))) FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY h0 ORDER BY h0"
).fetchall():
    print("  partition h0=%s: %d rows" % (line[0], line[1]))
rel = con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")
print("schema:", ", ".join(f"{n} {t}" for n, t in zip(rel.columns, rel.types)))
vcol, ccol = rel.columns[0], rel.columns[1]
print(con.sql(
    f"SELECT count(*) AS pixels, count(DISTINCT {ccol}) AS cells, min({vcol}) AS min, "
    f"max({vcol}) AS max, round(avg({vcol}), 2) AS mean FROM rel"
))
print("first rows:")
print(con.sql(f"SELECT {vcol}, {ccol}, printf('%x', {ccol}) AS {ccol}_hex, h0 FROM rel LIMIT 5"))
