"""Spoken and transcribed audio: loading and validation, synthesis, features, and text normalisation."""
