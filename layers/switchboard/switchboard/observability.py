"""The one logger and metrics object every function shares (Powertools; configured by POWERTOOLS_* env vars)."""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
