"""runner's built-in Hydra config, shipped inside the package as ``runner.conf``."""
