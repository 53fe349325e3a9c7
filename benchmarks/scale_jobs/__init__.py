"""The jobs of ``benchmarks/scale.py``, one module each, run each in its own process (so its peak memory is its own).

A job module exposes ``run(quick: bool) -> dict`` of flat figures (numbers, strings, booleans); the keys ``size``
(what it ran on), ``goal`` (the goal, in words) and ``met`` (whether it was met) fill those columns of the table,
the rest are its figures. It runs in a process where ``benchmarks/_setup.py`` was imported, against the driver's
private mongod. Modules whose names start with ``_`` are shared helpers, not jobs.
"""
