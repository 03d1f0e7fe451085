"""Workspaces beyond one pass: sizes (what a workspace is made with) and capacity (how many
run at once, and the fair line for a free place)."""
