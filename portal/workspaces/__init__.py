"""Workspaces: everything between a person's intent and a running IDE.

The reconciler tier (DESIGN §3): the web tier records intent (intent.py) and reads state
(status.py); jobs on a durable queue (queue.py, jobs.py) run the passes (provisioning.py, with
the template's spec and parameters: workspace_spec.py, workspace_params.py) and observe every
workspace in flight with one batched read a tick (observe.py); beats.py and housekeeping.py
keep the tier's clock and its minute's duties; platform.py the versions the worker read.
Sizes (size_spec.py, sizes.py) and capacity (occupancy.py, admission.py, gate.py); start, stop
and keep-alive (workspace_actions.py); stopping or deleting a set at once (bulk.py); the admin
pages' live view (admin_live.py).
"""
