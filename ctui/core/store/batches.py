"""How long a long import may hold the write lock: the batches `ctui import` writes in.

Shared by the task and the decision imports: each batch is one write
transaction of at most `BATCH_S` (or `BATCH_MAX` items), with a pause between
batches so an agent's edit-time lease check never waits behind a whole import.
"""

BATCH_S = 0.05  # the longest one import batch holds the store's write lock
BATCH_MAX = 1000
BATCH_PAUSE_S = 0.01  # between batches, so writers polling for the lock win the gap
