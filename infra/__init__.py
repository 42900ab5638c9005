"""What wires the functions together besides template.yaml: template reading, the local runner, redrive."""
