"""Closed-loop simulation for `kuavo eval --sim`: scenes, control, rendering, tasks, episodes, reports."""
