"""Distances between distributions and the methods that bring two of them closer (Q1.1-1.2)."""
