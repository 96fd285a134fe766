"""runner's JSON Schemas, shipped inside the package as ``runner.schemas``."""
