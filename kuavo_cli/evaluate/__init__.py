"""Offline evaluation of LeRobot policy checkpoints against held-out Kuavo demonstrations (`kuavo eval`)."""
