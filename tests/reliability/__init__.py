"""The reliability suite: every operator's bad-input and fault cases, run by one runner (issue 7).

Modules
- ``registry``: the ``Case`` type and the registry every case module adds to;
- ``resources``: what cases share (tiny local models, small base datasets copied per case, fault injection into
  the loaded plugin, delegated workers);
- ``runner``: runs one case and measures it: clear error, graceful outcome or crash, labels lost, half-written
  fields;
- ``cases``: bad input of every operator; ``fault_cases``: interrupted runs, corrupt images, a killed delegated
  worker, concurrent human edits;
- ``test_reliability``: pytest over the registry; ``benchmarks/reliability.py`` prints the table.

Adding cases
1. In a module of your own here (e.g. ``cvat_cases.py``), build ``Case`` objects and ``register`` them::

       from .registry import Case, register
       from .resources import Model, digits, sdk

       register(Case(
           name="cvat_unreachable_server",          # unique; prefix it with the operator
           operator="cvat_send",                     # the table groups cases by this
           kind="fault",                             # bad input, wrong type, empty view, protected labels, fault...
           setup=digits,                             # res -> the collection the call targets (a fresh copy)
           call=sdk("cvat_send", "ground_truth"),    # (target, res) -> result: the call as the SDK makes it
           error=r"cannot reach CVAT at .*: check",  # regex the message must match; None: a graceful outcome
           verify=None,                              # (target, res, result) -> problems of a graceful outcome
       ))

2. Add one line at the end of ``cases.py``: ``from . import cvat_cases  # noqa: E402,F401``.

Every field of the dataset at setup is protected unless the case lists it in ``writes``; labels written by other
"users" during a call (concurrency cases) are recorded in ``res.journal`` and must survive too.
"""
