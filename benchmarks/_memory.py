"""Memory figures of the running process (Linux): resident memory now, and a reset of the peak that
``_setup.peak_rss_mb`` reads, so a benchmark can report the peak of one step rather than of its whole process."""


def status_mb(key: str) -> float:
    """A memory line of ``/proc/self/status`` (e.g. ``VmRSS``, resident now), in MiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(f"{key}:"))


def reset_peak() -> None:
    """Resets the peak RSS (``VmHWM``, which ``_setup.peak_rss_mb`` reads) to the current RSS."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
