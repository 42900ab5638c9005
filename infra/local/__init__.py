"""The local runner (`make run`): moto for AWS, one worker process per function, an HTTP API
gateway with the JWT authorizer, SQS event-source pollers and schedules, all built from
template.yaml so nothing is defined twice."""
