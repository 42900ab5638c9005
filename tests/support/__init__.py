"""What the unit and integration suites share: a moto stack built from template.yaml, channel drivers
that speak each provider's webhook dialect, and builders of the events Lambda hands our functions."""
