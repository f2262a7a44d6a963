"""An empty gunicorn configuration: the benchmarks' servers take every setting from their command
line (bench/common.py), not from the gunicorn.conf.py gunicorn would otherwise read from the
checkout they serve."""
