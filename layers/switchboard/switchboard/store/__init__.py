"""Data access: the only package that knows table keys, indexes, expressions and boto3 DynamoDB."""
