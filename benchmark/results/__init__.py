"""Results: run records -> parquet (aggregate), the statistics behind every verdict, and what is derived from
the parquet files (report, export, DVC metrics and plots)."""
