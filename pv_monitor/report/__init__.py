"""The periodic signal report (PBRER / DSUR tables) for a data-lock point.

``tables`` computes each table from the frames read at the lock, ``build`` assembles them with
sequential monitoring, disproportionality, survival and the signal overview, and ``render``
writes the same report as HTML, PDF and XLSX. All three are pure; ``pv_monitor.reporting``
reads the store and writes the files.
"""
