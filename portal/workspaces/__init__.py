"""The reconciler tier (DESIGN §3): the web tier records intent (intent.py) and reads state
(status.py); jobs on a durable queue (queue.py, jobs.py) run the passes (portal/provisioning.py)
and observe every workspace in flight with one batched read a tick (observe.py)."""
