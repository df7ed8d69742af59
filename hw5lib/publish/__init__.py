"""What a chapter publishes with: parameters and profiles, results, provenance, figures and tables, two languages."""
