"""Workspaces beyond one request. The reconciler tier (DESIGN §3): the web tier records intent
(intent.py) and reads state (status.py); jobs on a durable queue (queue.py, jobs.py) run the
passes (portal/provisioning.py) and observe every workspace in flight with one batched read a
tick (observe.py). Sizes (what a workspace is made with: size_spec.py, sizes.py) and capacity
(how many run at once, and the fair line for a free place: occupancy.py, admission.py, gate.py).
Stopping or deleting a set of workspaces at once (a member removed, a person offboarded, a
project deleted): bulk.py."""
