"""Publication figures built from stored results (sweep stores, Results), never re-simulating.

Each function takes labelled data (``xarray``) and returns a matplotlib Figure; ``ax=`` draws
into existing axes so that figures compose into panels.
"""
