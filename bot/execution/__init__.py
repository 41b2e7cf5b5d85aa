"""The order path: admission, the router, the intent journal and the rules that settle orders.

The router sends and cancels with stable client order ids, one error
classification table and one retry policy; the journal records every intent
before it is sent; ``evidence`` and ``sweep`` settle the journal against what
the venue shows. The worker that drives them is ``runtime.worker``.
"""
