"""The one logger and metrics object every function shares (Powertools; configured by POWERTOOLS_* env vars)."""

from aws_lambda_powertools import Logger, Metrics

# Lambda's JSON log format (template Globals) reads a record's "level" to filter it and its "timestamp"
# only when it is RFC 3339; Powertools' default timestamp ("2024-01-02 03:04:05,678+0000") is not.
LOGGER_FORMAT: dict[str, bool] = {"use_rfc3339": True}

logger = Logger(use_rfc3339=LOGGER_FORMAT["use_rfc3339"])
metrics = Metrics()
