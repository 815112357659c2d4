"""Compatibility names from the original team README (`lejurobot.*`), backed by kuavo."""
