"""Data quality: mistakenness, uniqueness, near duplicates, embedding maps, active-learning selection."""
