"""The hall as a SimPy model: planning studies, the live twin, calibration.

- :mod:`simulation.model` — one day of the hall (arrivals, calls through the core's
  ``choose()``, services, no-shows and recalls, journeys, patience, balking, shifts).
- :mod:`simulation.replications` — many days and replications, on local cores or a
  Dask cluster; :mod:`simulation.kpis` — the figures and their 95% intervals;
  :mod:`simulation.report` — HTML/CSV/JSON; :mod:`simulation.compare` — two layouts.
- :mod:`simulation.twin` — forecasts and staffing moves from the live hall's state.
- :mod:`simulation.events` / :mod:`simulation.calibrate` — a simulated day as the
  server's event stream, and fitting the model's inputs from such a stream.
- :mod:`simulation.theory` / :mod:`simulation.scenarios` — exact results (Erlang C,
  Erlang A, Cobham) and the small halls that check the model against them.

From the command line::

    hallq simulate config.yaml --days 5 --reps 30 --out report/
    hallq simulate config.yaml --roster roster.csv --scheduler tcp://10.0.0.5:8786
    hallq compare one-window-per-department.yaml comprehensive.yaml --days 5 --reps 30
    hallq events export --config config.yaml -o events.jsonl
    hallq calibrate events.jsonl --config config.yaml --out calibrated.yaml
"""
